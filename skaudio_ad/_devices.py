"""Which JAX devices a fit uses, and how its arrays are laid out over them.

Data parallelism with :mod:`jax.sharding` (``pmap`` is legacy): a one-axis
:class:`~jax.sharding.Mesh` over the devices, every batch split along that ``"batch"`` axis,
parameters, optimizer state and the device-resident clips replicated. The jitted steps are
unchanged: XLA partitions them from the shardings of their inputs and inserts the gradient
all-reduce, so one step on n devices computes the loss of the whole batch, as on one device.
"""

import functools
import numbers

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["resolve_devices", "Layout"]


def resolve_devices(devices):
    """The devices a fit uses, as a tuple.

    ``None``: all local devices of JAX's default backend; an int n: the first n of them; a
    sequence of ints: the local devices with those ids (``jax.Device.id``). Ids rather than
    ``jax.Device`` objects keep the estimator picklable and clonable.
    """
    available = jax.local_devices()
    if devices is None:
        return tuple(available)
    if isinstance(devices, numbers.Integral) and not isinstance(devices, bool):
        if not 1 <= devices <= len(available):
            raise ValueError(
                f"devices={devices} asks for more devices than the {len(available)} local "
                f"{available[0].platform} device(s) present; use 1..{len(available)} or None."
            )
        return tuple(available[:devices])
    by_id = {d.id: d for d in available}
    try:
        ids = [int(i) for i in devices]
    except (TypeError, ValueError):
        ids = None
    if not ids or any(i not in by_id for i in ids) or len(set(ids)) != len(ids):
        raise ValueError(
            f"devices={devices!r} must be None, a positive int or a non-empty list of distinct "
            f"local device ids; the ids present are {sorted(by_id)}."
        )
    return tuple(by_id[i] for i in ids)


@functools.lru_cache(maxsize=8)
def _layout(devices):
    return Layout(devices)


class Layout:
    """Shardings of one device set: ``batch`` splits axis 0, ``replicated`` copies."""

    def __init__(self, devices):
        self.devices = devices
        self.n_devices = len(devices)
        mesh = Mesh(np.asarray(devices, dtype=object), ("batch",))
        self.batch = NamedSharding(mesh, PartitionSpec("batch"))
        # Stacked networks (an ensemble) lead with a members axis: split the next one.
        self.member_batch = NamedSharding(mesh, PartitionSpec(None, "batch"))
        self.replicated = NamedSharding(mesh, PartitionSpec())

    @staticmethod
    def of(devices):
        """The (cached) layout of ``devices`` as :func:`resolve_devices` accepts them."""
        return _layout(resolve_devices(devices))

    def round_batch(self, batch_size):
        """``batch_size`` rounded up to a multiple of the device count.

        A batch that does not divide evenly is padded with masked patches, which change
        neither the loss nor the gradient; they cost the compute of real ones.
        """
        return -(-batch_size // self.n_devices) * self.n_devices

    def put_batch(self, tree, axis=0):
        """Arrays whose axis ``axis`` (0 or 1) is the batch, split over the devices."""
        return jax.device_put(tree, self.batch if axis == 0 else self.member_batch)

    def put_replicated(self, tree):
        """Parameters, optimizer state, resident clips: a full copy on every device."""
        return jax.device_put(tree, self.replicated)
