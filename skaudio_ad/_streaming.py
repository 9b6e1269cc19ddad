"""Clips read, standardised and put on the device a chunk at a time: flat memory.

The detector sees its training data as :class:`Clips`, rows of a *source*: an in-memory array
``(n_clips, n_channels, n_frames)`` (the transformer's mel-major layout, no copy) or a
:class:`~skaudio_ad.FeatureStore` on disk. Nothing here holds more than one standardised copy:

- :func:`channel_stats`: per channel mean and standard deviation, two passes in float64 over
  chunks, the same numbers whichever the source;
- :class:`TrainingFeed`: the standardised, time-major training clips on the device. When they
  fit in one group (always for arrays in memory) they are built there once, chunk by chunk
  into one donated buffer, and stay for every epoch. A store larger than ``GROUP_BYTES`` is
  trained a group of clips at a time: each epoch shuffles the clips, cuts them into groups of
  many clips (so every batch still mixes patches of many clips), and each group is read,
  standardised and put on the device, then trained on its patches in random order.
- :func:`map_chunks`: scoring in chunks of clips (a clip's errors do not depend on the other
  clips of its inference batch, so chunking changes no number).
"""

import functools

import jax
import numpy as np

from ._store import FeatureStore

__all__ = ["Clips", "channel_stats", "TrainingFeed", "map_chunks", "GROUP_BYTES"]

#: Standardised float32 clips of a store trained on per group (device memory per group):
#: about 260 eight-second clips at 64 mels, 1,800 patches, so a batch still mixes many clips.
GROUP_BYTES = 16 * 2**20
#: Raw clips read and standardised per chunk (host scratch: this, twice, in float64).
CHUNK_BYTES = 4 * 2**20


class Clips:
    """Rows ``rows`` of ``source`` (array or FeatureStore, ``(n, n_channels, n_frames)``)."""

    def __init__(self, source, rows=None):
        self.source = source
        self.rows = np.arange(source.shape[0]) if rows is None else np.asarray(rows, np.int64)

    @property
    def n_clips(self):
        return len(self.rows)

    @property
    def n_channels(self):
        return self.source.shape[1]

    @property
    def n_frames(self):
        return self.source.shape[2]

    @property
    def on_disk(self):
        return isinstance(self.source, FeatureStore)

    @property
    def nbytes(self):
        """Bytes of these clips standardised (float32)."""
        return self.n_clips * self.n_channels * self.n_frames * 4

    def subset(self, index):
        return Clips(self.source, self.rows[index])

    def concat(self, other):
        assert other.source is self.source
        return Clips(self.source, np.concatenate([self.rows, other.rows]))

    def chunk_size(self, nbytes=CHUNK_BYTES):
        return max(1, nbytes // (self.n_channels * self.n_frames * 4))

    def read(self, index=slice(None)):
        """Raw clips ``index`` as float32 in the source's layout ``(k, n_channels, n_frames)``."""
        rows = self.rows[index]
        if self.on_disk:
            return self.source.read(rows)
        return np.asarray(self.source[rows], dtype=np.float32)

    def standardised(self, index, standardise):
        """Clips ``index`` time-major, ``standardise(raw (k, n_frames, n_channels), rows)``
        (``rows``: their rows in the source, for error messages)."""
        return standardise(self.read(index).transpose(0, 2, 1), self.rows[index])

    def cache_key(self):
        """What ``joblib.Memory`` hashes for these clips: an array's bytes, a store's digest
        (not its file name: refitting the transformer writes the same features anew)."""
        if self.on_disk:
            return ("FeatureStore", self.source.digest, self.source.shape, self.rows)
        return (self.source, self.rows)


def channel_stats(clips):
    """Mean and standard deviation (floored at 1e-6) per channel, float64, in two passes."""
    step = clips.chunk_size()
    count = clips.n_clips * clips.n_frames
    total = np.zeros(clips.n_channels)
    for lo in range(0, clips.n_clips, step):
        total += clips.read(slice(lo, lo + step)).sum(axis=(0, 2), dtype=np.float64)
    mean = total / count
    squares = np.zeros(clips.n_channels)
    for lo in range(0, clips.n_clips, step):
        centred = clips.read(slice(lo, lo + step)).astype(np.float64) - mean[:, None]
        squares += np.einsum("icf,icf->c", centred, centred)
    # A constant bin would divide by zero; it then only carries its offset.
    return mean, np.maximum(np.sqrt(squares / count), 1e-6)


@functools.cache
def _update():
    @functools.partial(jax.jit, donate_argnums=0)
    def update(buffer, chunk, lo):
        return jax.lax.dynamic_update_slice_in_dim(buffer, chunk, lo, axis=0)

    return update


def to_device(clips, index, standardise, n_rows, layout):
    """Clips ``index`` standardised into one device buffer of ``n_rows`` rows (zero padded).

    Built a chunk at a time into a donated buffer, so host memory holds one chunk and the
    device one copy.
    """
    rows = np.arange(clips.n_clips)[index]
    shape = (n_rows, clips.n_frames, clips.n_channels)
    buffer = jax.numpy.zeros(shape, np.float32, device=layout.replicated)
    step = clips.chunk_size()
    update = _update()
    for lo in range(0, len(rows), step):
        chunk = layout.put_replicated(clips.standardised(rows[lo : lo + step], standardise))
        buffer = update(buffer, chunk, lo)
    return buffer


def pad_rows(n):
    """Rows of a resident buffer: ``n`` rounded up to a multiple of 2**(bit_length - 4).

    The training step is compiled per buffer shape; cross-validation folds of nearly equal
    size then share one compilation (at most 12.5 % padding, never sampled).
    """
    step = 1 << max(0, n.bit_length() - 4)
    return -(-n // step) * step


class TrainingFeed:
    """The standardised training clips on the device, resident or a group at a time.

    ``epoch(params, opt_state, run, rng)`` runs one epoch: ``run(params, opt_state, X_device,
    members, rng)`` trains on the clips ``members`` (indices into ``clips``, in the order of
    the rows of ``X_device``; further rows are padding) and returns ``(params, opt_state,
    mean_loss, n_patches)``. Resident clips are one call with every clip in order.
    """

    def __init__(self, clips, standardise, layout, group_bytes=None):
        group_bytes = GROUP_BYTES if group_bytes is None else group_bytes
        self.clips, self.standardise, self.layout = clips, standardise, layout
        self.resident = not clips.on_disk or clips.nbytes <= group_bytes
        if self.resident:
            self.group = clips.n_clips
            rows = pad_rows(clips.n_clips)
            self._X = to_device(clips, slice(None), standardise, rows, layout)
        else:
            per_clip = clips.nbytes // clips.n_clips
            self.group = max(1, group_bytes // per_clip)
            self._X = None

    def epoch(self, params, opt_state, run, rng):
        n = self.clips.n_clips
        if self.resident:
            params, opt_state, loss, _ = run(params, opt_state, self._X, np.arange(n), rng)
            return params, opt_state, loss
        order = rng.permutation(n)
        total, count = 0.0, 0
        for lo in range(0, n, self.group):
            # Sorted within the group: reads of neighbouring rows merge; the step shuffles.
            members = np.sort(order[lo : lo + self.group])
            X = to_device(self.clips, members, self.standardise, self.group, self.layout)
            params, opt_state, loss, n_patches = run(params, opt_state, X, members, rng)
            # The group's steps are dispatched asynchronously: wait for them before the next
            # group is built, or two groups would be alive at once (measured: +40 MB peak).
            jax.block_until_ready(params)
            del X
            total += loss * n_patches
            count += n_patches
        return params, opt_state, total / count


def map_chunks(clips, standardise, fn):
    """``fn`` of the standardised chunks of ``clips``, concatenated along the clips.

    ``fn`` returns an array, or a tuple of arrays (or None), per chunk of clips; a clip's
    result must not depend on the other clips of its chunk (true of scoring: inference
    batches have a fixed size).
    """
    step = clips.chunk_size()
    parts = [
        fn(clips.standardised(slice(lo, lo + step), standardise))
        for lo in range(0, clips.n_clips, step)
    ]
    if not isinstance(parts[0], tuple):
        return np.concatenate(parts)
    return tuple(
        None if column[0] is None else np.concatenate(column) for column in zip(*parts, strict=True)
    )
