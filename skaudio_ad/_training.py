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


@functools.lru_cache(maxsize=32)
def _compiled(config: NetworkConfig, learning_rate: float):
    """The jitted functions for one network shape and learning rate (cached across fits)."""
    graphdef, _ = nnx.split(build_network(config, jax.random.key(0)))
    optimizer = optax.adam(learning_rate)
    n_frames = config.patch_frames

    def apply(params, patches):
        return nnx.merge(graphdef, params)(patches)

    def gather(X, clips, starts):
        def one(c, s):
            return jax.lax.dynamic_slice(X, (c, s, 0), (1, n_frames, X.shape[2]))[0]

        return jax.vmap(one)(clips, starts)

    def loss_fn(params, patches, mask):
        per_patch = jnp.mean((apply(params, patches) - patches) ** 2, axis=(1, 2))
        return jnp.sum(per_patch * mask) / jnp.maximum(jnp.sum(mask), 1.0)

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def train_step(params, opt_state, X, clips, starts, mask):
        patches = gather(X, clips, starts)
        loss, grads = jax.value_and_grad(loss_fn)(params, patches, mask)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    @jax.jit
    def patch_frame_errors(params, patches):
        # (batch, patch_frames): squared error averaged over the mel bins.
        return jnp.mean((apply(params, patches) - patches) ** 2, axis=2)

    return graphdef, optimizer, train_step, patch_frame_errors


def init_state(config, learning_rate, key):
    """Fresh parameters and optimizer state as pytrees of host numpy arrays."""
    _, optimizer, _, _ = _compiled(config, float(learning_rate))
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
    _, optimizer, _, _ = _compiled(config, float(learning_rate))
    treedef = jax.tree.structure(optimizer.init(params))
    return jax.tree.unflatten(treedef, [np.asarray(leaf) for leaf in leaves])


# --------------------------------------------------------------------------- training


def run_epoch(
    config, learning_rate, batch_size, params, opt_state, X_device, clips, starts, rng,
    layout=None,
):
    """One pass over the patches ``(clips[i], starts[i])`` of ``X_device`` in random order.

    Returns the updated ``(params, opt_state)`` (device pytrees) and the mean training loss.
    ``params`` and ``opt_state`` are donated: do not reuse the arrays passed in. With a
    ``layout`` (:class:`~skaudio_ad._devices.Layout`) every batch is split over its devices.
    """
    _, _, train_step, _ = _compiled(config, float(learning_rate))
    n = len(clips)
    order = rng.permutation(n)
    n_batches = -(-n // batch_size)
    padded = n_batches * batch_size
    # Padding repeats real patches (any valid index works) with a zero mask weight.
    order = np.resize(order, padded)
    mask = (np.arange(padded) < n).astype(np.float32).reshape(n_batches, batch_size)
    clip_batches = clips[order].astype(np.int32).reshape(n_batches, batch_size)
    start_batches = starts[order].astype(np.int32).reshape(n_batches, batch_size)
    width = batch_size if layout is None else layout.round_batch(batch_size)
    if width > batch_size:
        # Masked patches (weight 0) so the device count divides the batch: same loss.
        extra = ((0, 0), (0, width - batch_size))
        clip_batches, start_batches = np.pad(clip_batches, extra), np.pad(start_batches, extra)
        mask = np.pad(mask, extra)
    put = jax.device_put if layout is None else layout.put_batch
    # One transfer for the epoch, already split per step (slicing device arrays in the loop
    # would dispatch three extra operations per step).
    batches = put(list(zip(clip_batches, start_batches, mask, strict=True)))
    losses = []
    for c, s, m in batches:
        params, opt_state, loss = train_step(params, opt_state, X_device, c, s, m)
        losses.append(loss)
    weights = mask.sum(axis=1)
    epoch_loss = float(np.dot(np.asarray(jnp.stack(losses)), weights) / n)
    return params, opt_state, epoch_loss


def frame_errors(config, learning_rate, params, X, hop, layout=None):
    """Per-frame reconstruction error of every clip, ``(n_clips, n_frames)`` float64.

    Each clip is cut into patches of ``config.patch_frames`` with ``hop``; a frame's error is the
    mean over mel bins of the squared error, averaged over the patches covering it. Inference
    batches have a fixed size so that a clip's errors do not depend on the other clips. With a
    ``layout``, every inference batch is split over its devices.
    """
    _, _, _, patch_frame_errors = _compiled(config, float(learning_rate))
    n_clips, n_frames, n_channels = X.shape
    T = config.patch_frames
    starts = patch_starts(n_frames, T, hop)
    coverage = np.zeros(n_frames)
    for s in starts:
        coverage[s : s + T] += 1
    window = starts[:, None] + np.arange(T)  # (n_patches, T)
    batch_size = INFERENCE_BATCH if layout is None else layout.round_batch(INFERENCE_BATCH)
    put = jax.device_put if layout is None else layout.put_batch
    clips_per_call = max(1, batch_size // len(starts))
    out = np.empty((n_clips, n_frames))
    for lo in range(0, n_clips, clips_per_call):
        chunk = X[lo : lo + clips_per_call]
        patches = chunk[:, window].reshape(-1, T, n_channels)
        n_real = patches.shape[0]
        batch = -(-n_real // batch_size) * batch_size
        if batch > n_real:
            patches = np.concatenate(
                [patches, np.zeros((batch - n_real, T, n_channels), patches.dtype)]
            )
        errs = []
        for b in range(0, batch, batch_size):
            errs.append(patch_frame_errors(params, put(patches[b : b + batch_size])))
        errs = np.concatenate([np.asarray(e) for e in errs])[:n_real].astype(np.float64)
        errs = errs.reshape(len(chunk), len(starts), T)
        sums = np.zeros((len(chunk), n_frames))
        for j, s in enumerate(starts):
            sums[:, s : s + T] += errs[:, j]
        out[lo : lo + len(chunk)] = sums / coverage
    return out



#: Wall clock for the per-epoch ``seconds`` of ``history_``.
clock = time.perf_counter
