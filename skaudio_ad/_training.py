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
    "run_members_epoch",
    "init_members",
    "inference",
    "trainer",
    "error_maps",
    "frame_errors",
    "frame_errors_and_profiles",
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
    """The jitted scoring functions of one network shape."""

    graphdef: object
    patch_errors: object  # (params, patches) -> squared errors, shape of the patches
    patch_frame_errors: object  # (params, patches) -> errors averaged over channels (b, t)
    patch_scores: object  # (params, patches) -> ((b, t) as above, (b, c) time-mean per channel)
    patch_frame_nll: object  # (params, patches) -> loss="gaussian"'s NLL per frame (b, t)


class Trainer(NamedTuple):
    """The optimizer and jitted training steps of one network shape and optimizer setting."""

    optimizer: object
    train_step: object  # (params, opt_state, X, clips, starts, mask) -> (params, opt_state, loss)
    #: The same step for networks stacked on a leading member axis, trained side by side on
    #: their own patches of the shared ``X`` (``jax.vmap``: one dispatch for all members; not
    #: used on CPU, see :func:`run_members_epoch`).
    members_step: object


def _apply(graphdef, params, patches):
    return nnx.merge(graphdef, params)(patches)


def _target_outputs(graphdef, config, params, patches):
    """``(output, target)`` on the target window of each patch, ``(b, window, ...)``.

    Reconstruction: the whole patch in, the whole patch compared. Interpolation: the centre
    frames are zeroed (the training mean once standardised) before the network sees them,
    and only they are compared, so the network must predict them from their context.
    """
    if config.masked_frames == 0:
        return _apply(graphdef, params, patches), patches
    first, length = config.target_window
    hidden = patches.at[:, first : first + length].set(0.0)
    out = _apply(graphdef, params, hidden)
    return out[:, first : first + length], patches[:, first : first + length]


def _target_errors(graphdef, config, params, patches):
    """Squared errors on the target window of each patch, ``(b, window, c)``.

    With ``loss="gaussian"``, in units of the predicted variance: where the network expects
    its input to be unpredictable (a background's fluctuations) an error counts for less.
    """
    out, target = _target_outputs(graphdef, config, params, patches)
    if config.loss != "gaussian":
        return (out - target) ** 2
    mean, log_var = _gaussian_head(out, config.n_channels)
    return jnp.exp(-log_var) * (mean - target) ** 2


#: Bound of the predicted log-variance (|log var| < this, smoothly): keeps exp finite.
LOG_VAR_BOUND = 6.0

#: The beta of beta-NLL (Seitzer et al., ICLR 2022): each value's likelihood term weighted by
#: its predicted variance ** beta (no gradient through the weight), so that the mean is not
#: left unfitted where the network can claim a large variance instead.
NLL_BETA = 0.5


def _gaussian_head(out, n_channels):
    mean, raw = out[..., :n_channels], out[..., n_channels:]
    return mean, LOG_VAR_BOUND * jnp.tanh(raw / LOG_VAR_BOUND)


def _gaussian_nll(graphdef, config, params, patches):
    """``loss="gaussian"``: the negative log-likelihood of every value (no constant) and its
    log-variance, both ``(b, window, c)``."""
    out, target = _target_outputs(graphdef, config, params, patches)
    mean, log_var = _gaussian_head(out, config.n_channels)
    return 0.5 * (jnp.exp(-log_var) * (mean - target) ** 2 + log_var), log_var


def _training_loss(graphdef, config, params, patches):
    """Per-value training loss ``(b, window, c)``: the squared error, or beta-NLL."""
    if config.loss != "gaussian":
        return _target_errors(graphdef, config, params, patches)
    nll, log_var = _gaussian_nll(graphdef, config, params, patches)
    return jax.lax.stop_gradient(jnp.exp(NLL_BETA * log_var)) * nll


@functools.lru_cache(maxsize=32)
def inference(config: NetworkConfig) -> Inference:
    """The jitted scoring of one network shape (cached across fits; no training setting)."""
    # Abstract construction: building real weights here ran ~20 eager ops (0.3-1 s per process).
    graphdef, _ = nnx.split(nnx.eval_shape(lambda: build_network(config, jax.random.key(0))))

    @jax.jit
    def patch_errors(params, patches):
        return _target_errors(graphdef, config, params, patches)

    @jax.jit
    def patch_frame_errors(params, patches):
        # For reconstruction, the 0.1 release's operations: old model files score alike.
        return jnp.mean(_target_errors(graphdef, config, params, patches), axis=2)

    @jax.jit
    def patch_scores(params, patches):
        errors = _target_errors(graphdef, config, params, patches)
        return jnp.mean(errors, axis=2), jnp.mean(errors, axis=1)

    @jax.jit
    def patch_frame_nll(params, patches):
        return jnp.mean(_gaussian_nll(graphdef, config, params, patches)[0], axis=2)

    return Inference(graphdef, patch_errors, patch_frame_errors, patch_scores, patch_frame_nll)


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
        per_patch = jnp.mean(_training_loss(graphdef, config, params, patches), axis=(1, 2))
        return jnp.sum(per_patch * mask) / jnp.maximum(jnp.sum(mask), 1.0)

    def step(params, opt_state, X, clips, starts, mask):
        patches = gather(X, clips, starts)
        loss, grads = jax.value_and_grad(loss_fn)(params, patches, mask)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    train_step = jax.jit(step, donate_argnums=(0, 1))
    members_step = jax.jit(
        jax.vmap(step, in_axes=(0, 0, None, 0, 0, 0)), donate_argnums=(0, 1)
    )
    return Trainer(optimizer, train_step, members_step)


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
def abstract_params(config):
    # Tracing the constructor costs ~20 ms, most of a small scoring call: do it once per shape.
    return nnx.state(nnx.eval_shape(lambda: build_network(config, jax.random.key(0))))


def from_pure(config, pure):
    """Rebuild the parameter pytree of ``config`` from :func:`to_pure`'s nested dicts."""
    params = jax.tree.map(lambda leaf: leaf, abstract_params(config))  # a fresh container
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


def init_members(config, learning_rate, key, n_members):
    """Fresh parameters and optimizer states of ``n_members`` networks, stacked on axis 0.

    Member ``m`` draws its weights from ``fold_in(key, m)``, so member 0 is the network that
    :func:`init_state` draws from ``fold_in(key, 0)``.
    """
    states = [
        init_state(config, learning_rate, jax.random.fold_in(key, m)) for m in range(n_members)
    ]
    return stack([p for p, _ in states]), stack([o for _, o in states])


def stack(trees):
    """Pytrees of equal structure stacked leaf by leaf on a new leading axis (numpy)."""
    return jax.tree.map(lambda *leaves: np.stack([np.asarray(x) for x in leaves]), *trees)


def member(tree, m):
    """Member ``m`` of a stacked pytree (numpy leaves)."""
    return jax.tree.map(lambda leaf: np.asarray(leaf)[m], tree)


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


def run_members_epoch(config, learning_rate, batch_size, params, opt_state, X_device, tiles,
                      rng, layout=None):
    """One epoch of stacked networks, member ``m`` on its patches ``tiles[m] = (clips, starts)``.

    Every member takes the same number of steps (the shorter patch lists are padded with
    masked patches). On CPU the members train one after the other with the one-network step
    (:func:`_members_in_turn`), elsewhere together in one ``vmap``-ed step: the same steps.
    Returns the updated stacked ``(params, opt_state)`` (donated, as in :func:`run_epoch`) and
    each member's mean training loss, shape ``(n_members,)``.
    """
    steppers = trainer(config, float(learning_rate))
    n_batches = max(-(-len(c) // batch_size) for c, _ in tiles)
    padded = n_batches * batch_size
    clips, starts, masks = [], [], []
    for c, s in tiles:
        order = np.resize(rng.permutation(len(c)), padded)
        clips.append(c[order])
        starts.append(s[order])
        masks.append(np.arange(padded) < len(c))

    # With a layout (skaudio_ad._devices) every batch is split over its devices; a batch
    # they do not divide is widened with masked patches (same loss and gradient).
    width = batch_size if layout is None else layout.round_batch(batch_size)

    def per_step(a, dtype):
        a = np.stack(a).astype(dtype).reshape(len(tiles), n_batches, batch_size)
        return np.pad(a, ((0, 0), (0, 0), (0, width - batch_size)))

    clips, starts = per_step(clips, np.int32), per_step(starts, np.int32)
    mask = per_step(masks, np.float32)
    weights = mask.sum(axis=2)  # (n_members, n_batches)
    if _members_in_turn(X_device):
        params, opt_state, losses = _epoch_in_turn(
            steppers.train_step, params, opt_state, X_device, clips, starts, mask, layout
        )
    else:
        steps = [(clips[:, b], starts[:, b], mask[:, b]) for b in range(n_batches)]
        batches = jax.device_put(steps) if layout is None else layout.put_batch(steps, axis=1)
        losses = []
        for c, s, m in batches:
            params, opt_state, loss = steppers.members_step(params, opt_state, X_device, c, s, m)
            losses.append(loss)
        losses = np.asarray(jnp.stack(losses, axis=1))
    per_member = (losses * weights).sum(axis=1)
    return params, opt_state, per_member / weights.sum(axis=1)


def _members_in_turn(X_device):
    """Whether stacked members train one after the other rather than ``vmap``-ed together.

    On XLA:CPU the ``vmap``-ed convolutions of six members cost more than six steps of one
    network in turn (benchmarks/speed.py). On an accelerator one dispatch for all members
    keeps it busy; that path is kept there (not measured on a GPU yet).
    """
    return all(device.platform == "cpu" for device in X_device.devices())


def _epoch_in_turn(train_step, params, opt_state, X_device, clips, starts, mask, layout):
    """:func:`run_members_epoch`'s steps taken member by member with the one-network step.

    The same patches and order as the ``vmap``-ed step; returns the restacked ``(params,
    opt_state)`` and the losses ``(n_members, n_batches)``.
    """
    n_members = clips.shape[0]
    put = jax.device_put if layout is None else layout.put_batch
    # Several CPU devices: each step is waited for before the next is dispatched. With
    # asynchronous dispatch, steps in flight at once stalled XLA:CPU's in-process gradient
    # all-reduce (measured on 3 forced host devices: 4 of 6 fits with n_folds=2 and 1 of 3
    # with 5 aborted at its 40 s rendezvous timeout; none of 6 when each step is awaited).
    wait = layout is not None and layout.n_devices > 1
    trained, states, losses = [], [], []
    for m in range(n_members):
        p = jax.tree.map(lambda leaf, m=m: leaf[m], params)
        o = jax.tree.map(lambda leaf, m=m: leaf[m], opt_state)
        own = []
        for c, s, k in put(list(zip(clips[m], starts[m], mask[m], strict=True))):
            p, o, loss = train_step(p, o, X_device, c, s, k)
            if wait:
                loss.block_until_ready()
            own.append(loss)
        trained.append(p)
        states.append(o)
        losses.append(jnp.stack(own))
    restack = functools.partial(jax.tree.map, lambda *leaves: jnp.stack(leaves))
    return restack(*trained), restack(*states), np.asarray(jnp.stack(losses))


def _patch_batches(X, T, hop, layout=None):
    """Chunks of clips cut into fixed-size batches of patches: ``(lo, n_chunk, batches, n)``.

    With a layout, the batches are rounded up to a multiple of its devices and split over them.
    """
    n_clips, n_frames, n_channels = X.shape
    starts = patch_starts(n_frames, T, hop)
    window = starts[:, None] + np.arange(T)  # (n_patches, T)
    size = INFERENCE_BATCH if layout is None else layout.round_batch(INFERENCE_BATCH)
    put = (lambda b: b) if layout is None else layout.put_batch
    clips_per_call = max(1, size // len(starts))
    for lo in range(0, n_clips, clips_per_call):
        chunk = X[lo : lo + clips_per_call]
        patches = chunk[:, window].reshape(-1, T, n_channels)
        n_real = patches.shape[0]
        batch = -(-n_real // size) * size
        if batch > n_real:
            patches = np.concatenate(
                [patches, np.zeros((batch - n_real, T, n_channels), patches.dtype)]
            )
        yield lo, len(chunk), [put(patches[b : b + size]) for b in range(0, batch, size)], n_real


def _overlap_add(errs, starts, n_frames, config):
    """Per-patch errors ``(n, n_patches, window, ...)`` averaged over the patches covering a frame.

    A patch's errors cover its target window (:attr:`NetworkConfig.target_window`). Frames
    no window covers (the edges of a clip under the interpolation target) take the errors of
    the nearest covered frame.
    """
    first, length = config.target_window
    coverage = np.zeros(n_frames)
    for s in starts:
        coverage[s + first : s + first + length] += 1
    sums = np.zeros((errs.shape[0], n_frames, *errs.shape[3:]))
    for j, s in enumerate(starts):
        sums[:, s + first : s + first + length] += errs[:, j]
    covered = np.flatnonzero(coverage)
    out = sums[:, covered] / coverage[covered].reshape(-1, *([1] * (errs.ndim - 3)))
    if len(covered) == n_frames:
        return out
    nearest = np.clip(np.searchsorted(covered, np.arange(n_frames)), 0, len(covered) - 1)
    below = np.clip(nearest - 1, 0, len(covered) - 1)
    closer = np.abs(covered[below] - np.arange(n_frames)) < np.abs(
        covered[nearest] - np.arange(n_frames)
    )
    return out[:, np.where(closer, below, nearest)]


def frame_errors(config, params, X, hop, layout=None, *, nll=False):
    """Per-frame reconstruction error of every clip, ``(n_clips, n_frames)`` float64.

    Each clip is cut into patches of ``config.patch_frames`` with ``hop``; a frame's error is the
    mean over channels of the squared error, averaged over the patches covering it. Inference
    batches have a fixed size so that a clip's errors do not depend on the other clips.
    ``nll=True`` (``loss="gaussian"`` only): the negative log-likelihood instead, the
    quantity its training minimises (the validation loss).
    """
    fn = inference(config).patch_frame_nll if nll else inference(config).patch_frame_errors
    T, n_frames = config.patch_frames, X.shape[1]
    starts = patch_starts(n_frames, T, hop)
    out = np.empty((X.shape[0], n_frames))
    for lo, n, batches, n_real in _patch_batches(X, T, hop, layout):
        errs = np.concatenate([np.asarray(fn(params, b)) for b in batches])[:n_real]
        errs = errs.astype(np.float64).reshape(n, len(starts), -1)
        out[lo : lo + n] = _overlap_add(errs, starts, n_frames, config)
    return out


def frame_errors_and_profiles(config, params, X, hop, layout=None):
    """:func:`frame_errors`, and each clip's mean error per channel over its patches.

    Returns ``(frames, profiles)`` of shapes ``(n_clips, n_frames)`` and ``(n_clips,
    n_channels)``, float64, from one pass of the network.
    """
    fn = inference(config).patch_scores
    T, n_frames = config.patch_frames, X.shape[1]
    starts = patch_starts(n_frames, T, hop)
    frames = np.empty((X.shape[0], n_frames))
    profiles = np.empty((X.shape[0], X.shape[2]))
    for lo, n, batches, n_real in _patch_batches(X, T, hop, layout):
        outs = [fn(params, b) for b in batches]
        f = np.concatenate([np.asarray(o[0]) for o in outs])[:n_real].astype(np.float64)
        c = np.concatenate([np.asarray(o[1]) for o in outs])[:n_real].astype(np.float64)
        frames[lo : lo + n] = _overlap_add(f.reshape(n, len(starts), -1), starts, n_frames, config)
        profiles[lo : lo + n] = c.reshape(n, len(starts), -1).mean(axis=1)
    return frames, profiles


def error_maps(config, params, X, hop, layout=None):
    """Squared error of every frame and channel, ``(n_clips, n_frames, n_channels)`` float64.

    As :func:`frame_errors` before the mean over channels: per channel, averaged over the
    patches covering the frame.
    """
    fn = inference(config).patch_errors
    T, n_frames = config.patch_frames, X.shape[1]
    starts = patch_starts(n_frames, T, hop)
    out = np.empty(X.shape, dtype=np.float64)
    for lo, n, batches, n_real in _patch_batches(X, T, hop, layout):
        errs = np.concatenate([np.asarray(fn(params, b)) for b in batches])[:n_real]
        errs = errs.astype(np.float64).reshape(n, len(starts), -1, X.shape[2])
        out[lo : lo + n] = _overlap_add(errs, starts, n_frames, config)
    return out


#: Wall clock for the per-epoch ``seconds`` of ``history_``.
clock = time.perf_counter
