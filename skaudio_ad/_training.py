"""The pure training core: jit-compiled steps, the epoch loop, patch tiling and scoring.

No scikit-learn here: arrays, pytrees and keys in, arrays and pytrees out. Spectrograms are
held time-major, ``(n_clips, n_frames, n_channels)``, standardised, on the device.

Design by measurement (../shared/NOTES.md, benchmarks/bench_training.py): on XLA:CPU a Python
loop over one jitted, buffer-donating step beats a rolled ``lax.scan`` over steps 10-30x, so an
epoch is a Python loop; the batch is gathered from the device-resident clips inside the step,
the loss stays on the device until the epoch ends (one host sync per epoch), and the last batch
is padded and masked so that the step compiles once per shape.
"""

import functools
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from ._network import NetworkConfig, build_network

__all__ = [
    "TrainingDiverged",
    "patch_starts",
    "init_state",
    "run_epoch",
    "inference",
    "trainer",
    "error_maps",
    "frame_errors",
]

#: Patches per inference call; fixed so that a clip's score never depends on its neighbours.
INFERENCE_BATCH = 256


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite."""


# --------------------------------------------------------------------------- tiling


def patch_starts(n_frames, patch_frames, hop):
    """Start frames of patches of ``patch_frames`` tiling ``n_frames`` with ``hop``.

    The last patch is aligned with the end of the clip, so every frame is covered.
    """
    starts = np.arange(0, n_frames - patch_frames + 1, hop)
    if starts[-1] != n_frames - patch_frames:
        starts = np.append(starts, n_frames - patch_frames)
    return starts


def training_tiles(n_clips, n_frames, patch_frames, rng):
    """Non-overlapping patches with a random offset per clip and epoch.

    Over epochs the patches see every alignment (the overlapping patches of the clip) while an
    epoch costs no more than one pass over the frames.
    """
    per_clip = n_frames // patch_frames
    slack = n_frames - per_clip * patch_frames
    offsets = rng.integers(0, slack + 1, size=n_clips)
    clips = np.repeat(np.arange(n_clips), per_clip)
    starts = (offsets[:, None] + patch_frames * np.arange(per_clip)).ravel()
    return clips, starts


# --------------------------------------------------------------------------- compiled steps


class Inference(NamedTuple):
    """The jitted scoring function of one network shape."""

    graphdef: object
    patch_errors: object  # (params, patches) -> squared errors, shape of the patches


class Trainer(NamedTuple):
    """The optimizer and jitted training step of one network shape and optimizer setting."""

    optimizer: object
    train_step: object  # (params, opt_state, X, clips, starts, mask) -> (params, opt_state, loss)


def _apply(graphdef, params, patches):
    return nnx.merge(graphdef, params)(patches)


@functools.lru_cache(maxsize=32)
def inference(config: NetworkConfig) -> Inference:
    """The jitted scoring of one network shape (cached across fits; no training setting)."""
    graphdef, _ = nnx.split(build_network(config, jax.random.key(0)))

    @jax.jit
    def patch_errors(params, patches):
        return (_apply(graphdef, params, patches) - patches) ** 2

    return Inference(graphdef, patch_errors)


@functools.lru_cache(maxsize=32)
def trainer(config: NetworkConfig, learning_rate: float) -> Trainer:
    """The optimizer and jitted training step for one network shape and learning rate."""
    graphdef = inference(config).graphdef
    optimizer = optax.adam(learning_rate)
    n_frames = config.patch_frames

    def gather(X, clips, starts):
        def one(c, s):
            return jax.lax.dynamic_slice(X, (c, s, 0), (1, n_frames, X.shape[2]))[0]

        return jax.vmap(one)(clips, starts)

    def loss_fn(params, patches, mask):
        per_patch = jnp.mean((_apply(graphdef, params, patches) - patches) ** 2, axis=(1, 2))
        return jnp.sum(per_patch * mask) / jnp.maximum(jnp.sum(mask), 1.0)

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def train_step(params, opt_state, X, clips, starts, mask):
        patches = gather(X, clips, starts)
        loss, grads = jax.value_and_grad(loss_fn)(params, patches, mask)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return Trainer(optimizer, train_step)


def init_state(config, learning_rate, key):
    """Fresh parameters and optimizer state as pytrees of host numpy arrays."""
    optimizer = trainer(config, float(learning_rate)).optimizer
    params = nnx.state(build_network(config, key), nnx.Param)
    opt_state = optimizer.init(params)
    return to_host(params), to_host(opt_state)


def to_host(tree):
    return jax.tree.map(np.asarray, tree)


def to_pure(params):
    """A parameter pytree as nested dicts of numpy arrays (picklable without JAX objects)."""
    return jax.tree.map(np.asarray, nnx.to_pure_dict(params))


@functools.lru_cache(maxsize=32)
def _abstract_params(config):
    # Tracing the constructor costs ~20 ms, most of a small scoring call: do it once per shape.
    return nnx.state(nnx.eval_shape(lambda: build_network(config, jax.random.key(0))))


def from_pure(config, pure):
    """Rebuild the parameter pytree of ``config`` from :func:`to_pure`'s nested dicts."""
    params = jax.tree.map(lambda leaf: leaf, _abstract_params(config))  # a fresh container
    nnx.replace_by_pure_dict(params, jax.tree.map(np.asarray, pure))
    return params


def opt_state_leaves(opt_state):
    """The optimizer state as a flat list of numpy arrays (picklable without JAX objects)."""
    return [np.asarray(leaf) for leaf in jax.tree.leaves(opt_state)]


def opt_state_from_leaves(config, learning_rate, params, leaves):
    """Rebuild the optax state of :func:`opt_state_leaves` around ``params``."""
    optimizer = trainer(config, float(learning_rate)).optimizer
    treedef = jax.tree.structure(optimizer.init(params))
    return jax.tree.unflatten(treedef, [np.asarray(leaf) for leaf in leaves])


# --------------------------------------------------------------------------- training


def run_epoch(config, learning_rate, batch_size, params, opt_state, X_device, clips, starts, rng):
    """One pass over the patches ``(clips[i], starts[i])`` of ``X_device`` in random order.

    Returns the updated ``(params, opt_state)`` (device pytrees) and the mean training loss.
    ``params`` and ``opt_state`` are donated: do not reuse the arrays passed in.
    """
    train_step = trainer(config, float(learning_rate)).train_step
    n = len(clips)
    order = rng.permutation(n)
    n_batches = -(-n // batch_size)
    padded = n_batches * batch_size
    # Padding repeats real patches (any valid index works) with a zero mask weight.
    order = np.resize(order, padded)
    mask = (np.arange(padded) < n).astype(np.float32).reshape(n_batches, batch_size)
    # One transfer for the epoch, already split per step (slicing device arrays in the loop
    # would dispatch three extra operations per step).
    batches = jax.device_put(
        [
            (c, s, m)
            for c, s, m in zip(
                clips[order].astype(np.int32).reshape(n_batches, batch_size),
                starts[order].astype(np.int32).reshape(n_batches, batch_size),
                mask,
                strict=True,
            )
        ]
    )
    losses = []
    for c, s, m in batches:
        params, opt_state, loss = train_step(params, opt_state, X_device, c, s, m)
        losses.append(loss)
    weights = mask.sum(axis=1)
    epoch_loss = float(np.dot(np.asarray(jnp.stack(losses)), weights) / n)
    return params, opt_state, epoch_loss


def error_maps(config, params, X, hop, reduce=None):
    """Squared error of every frame and channel, averaged over the patches covering it.

    Each clip of ``X`` ``(n_clips, n_frames, n_channels)`` is cut into patches of
    ``config.patch_frames`` with ``hop``. Inference batches have a fixed size so that a clip's
    errors do not depend on the other clips. Returns float64 ``(n_clips, n_frames,
    n_channels)``, or, with ``reduce``, the concatenation of ``reduce(maps)`` over chunks of
    clips (so that a large ``X`` never holds all its maps at once).
    """
    patch_errors = inference(config).patch_errors
    n_clips, n_frames, n_channels = X.shape
    T = config.patch_frames
    starts = patch_starts(n_frames, T, hop)
    coverage = np.zeros((n_frames, 1))
    for s in starts:
        coverage[s : s + T] += 1
    window = starts[:, None] + np.arange(T)  # (n_patches, T)
    clips_per_call = max(1, INFERENCE_BATCH // len(starts))
    out = []
    for lo in range(0, n_clips, clips_per_call):
        chunk = X[lo : lo + clips_per_call]
        patches = chunk[:, window].reshape(-1, T, n_channels)
        n_real = patches.shape[0]
        batch = -(-n_real // INFERENCE_BATCH) * INFERENCE_BATCH
        if batch > n_real:
            patches = np.concatenate(
                [patches, np.zeros((batch - n_real, T, n_channels), patches.dtype)]
            )
        errs = [
            patch_errors(params, patches[b : b + INFERENCE_BATCH])
            for b in range(0, batch, INFERENCE_BATCH)
        ]
        errs = np.concatenate([np.asarray(e) for e in errs])[:n_real].astype(np.float64)
        errs = errs.reshape(len(chunk), len(starts), T, n_channels)
        sums = np.zeros((len(chunk), n_frames, n_channels))
        for j, s in enumerate(starts):
            sums[:, s : s + T] += errs[:, j]
        maps = sums / coverage
        out.append(maps if reduce is None else reduce(maps))
    return np.concatenate(out)


def frame_errors(config, params, X, hop):
    """Per-frame error ``(n_clips, n_frames)``: :func:`error_maps` averaged over channels."""
    return error_maps(config, params, X, hop, reduce=lambda maps: maps.mean(axis=2))


def pad_clips(X):
    """Zero clips appended so the count is a multiple of 2**(bit_length - 4) (within 12.5 %).

    The training step is compiled per shape of the device-resident clips; cross-validation
    folds of nearly equal size then share one compilation. Padding clips are never sampled.
    """
    n = X.shape[0]
    step = 1 << max(0, n.bit_length() - 4)
    padded = -(-n // step) * step
    if padded == n:
        return X
    return np.concatenate([X, np.zeros((padded - n, *X.shape[1:]), X.dtype)])


#: Wall clock for the per-epoch ``seconds`` of ``history_``.
clock = time.perf_counter
