"""A disk-backed store of log-mel spectrograms: the features of more clips than memory holds.

:class:`FeatureStore` is what :class:`~skaudio_ad.MelSpectrogramTransformer` returns for file
input with ``feature_store`` (see its docstring); :class:`~skaudio_ad.ConvAutoencoderDetector`
trains from and scores it streaming, a few clips at a time.

Design by measurement (``benchmarks/memory.py``): the file is written with ``os.pwrite`` and
read back with ``os.preadv`` into small buffers. A ``np.memmap`` was the obvious alternative,
but every page of a mapping that was touched stays in the process's resident set while it is
mapped (it counts in RSS and in peak RSS), so training from a memmap makes peak memory grow
with the data again; positional reads into a reused buffer keep it flat and leave caching to
the operating system's page cache, which is not charged to the process.
"""

import hashlib
import os
import struct
import tempfile
import weakref

import numpy as np

__all__ = ["FeatureStore"]

_MAGIC = b"SKADFS1\0"
_HEADER = struct.Struct("<8sQQQ32s")
#: Data start (one page, so that rows are read from page-aligned offsets when rows are pages).
_DATA_OFFSET = 4096
#: Output of the transformer computed and written per chunk of files.
CHUNK_BYTES = 16 * 2**20
#: ``feature_store="auto"`` writes a temporary store when the output would exceed this.
AUTO_STORE_BYTES = 64 * 2**20


class FeatureStore:
    """Float32 spectrograms of shape ``(n_clips, n_mels, n_frames)`` in one file, read by rows.

    Returned by :meth:`MelSpectrogramTransformer.transform
    <skaudio_ad.MelSpectrogramTransformer.transform>` for file input when ``feature_store``
    asks for it, and accepted by :class:`~skaudio_ad.ConvAutoencoderDetector` everywhere an
    array is, which then reads it a group of clips at a time: fitting a
    :class:`~sklearn.pipeline.Pipeline` on a long list of files never holds all features in
    memory.

    It is array-like for everything else: ``shape``, ``dtype``, ``ndim``, ``len``, indexing
    by an int, a slice or an array of rows (each returns an ``ndarray``), and
    ``np.asarray(store)`` reads it all into memory.

    Parameters
    ----------
    path : str or os.PathLike
        An existing store file (written by the transformer into a folder it was given).

    Attributes
    ----------
    path : str
        The file.
    shape : tuple of int
        ``(n_clips, n_mels, n_frames)``.
    digest : str
        BLAKE2b hash of the contents: pickles, and ``joblib.Memory`` keys, refer to it.
    temporary : bool
        True when the file is deleted together with this object (``feature_store="auto"``).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import soundfile as sf
    >>> from skaudio_ad import MelSpectrogramTransformer
    >>> folder = tempfile.mkdtemp()
    >>> rng = np.random.default_rng(0)
    >>> paths = []
    >>> for i in range(3):
    ...     paths.append(os.path.join(folder, f"clip{i}.wav"))
    ...     sf.write(paths[-1], 0.1 * rng.standard_normal(16000), 16000)
    >>> mel = MelSpectrogramTransformer(n_mels=32, feature_store=folder)
    >>> store = mel.fit_transform(paths)
    >>> store.shape, store[0].shape
    ((3, 32, 32), (32, 32))
    >>> bool(np.array_equal(np.asarray(store), mel.set_params(feature_store=None).transform(paths)))
    True
    """

    dtype = np.dtype(np.float32)
    ndim = 3

    def __init__(self, path):
        path = os.fspath(path)
        fd = os.open(path, os.O_RDONLY)
        try:
            header = os.pread(fd, _HEADER.size, 0)
            if len(header) != _HEADER.size or header[:8] != _MAGIC:
                raise ValueError(f"{path!r} is not a skaudio_ad feature store (bad header).")
            _, n, mels, frames, digest = _HEADER.unpack(header)
            size = os.fstat(fd).st_size
            expected = _DATA_OFFSET + n * mels * frames * 4
            if size != expected:
                raise ValueError(
                    f"feature store {path!r} is truncated or damaged: {size} bytes, expected "
                    f"{expected} for {n} clips of {mels} x {frames}."
                )
        except BaseException:
            os.close(fd)
            raise
        self._open(path, fd, (n, mels, frames), digest.hex(), temporary=False)

    def _open(self, path, fd, shape, digest, temporary):
        self.path = path
        self.shape = tuple(int(s) for s in shape)
        self.digest = digest
        self.temporary = temporary
        self._fd = fd
        self._finalizer = weakref.finalize(self, _close, fd, path if temporary else None)

    # -- array-like -----------------------------------------------------------------

    @property
    def nbytes(self):
        return int(np.prod(self.shape)) * 4

    @property
    def _row_bytes(self):
        return self.shape[1] * self.shape[2] * 4

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        kind = "temporary " if self.temporary else ""
        return f"<FeatureStore {self.shape} float32, {kind}file {self.path!r}>"

    def __array__(self, dtype=None, copy=None):
        if copy is False:
            raise ValueError("a FeatureStore cannot be viewed as an array without a copy.")
        out = self.read(np.arange(len(self)))
        return out if dtype is None else out.astype(dtype, copy=False)

    def __getitem__(self, key):
        if isinstance(key, tuple):
            rows, rest = (key[0], key[1:]) if key else (slice(None), ())
            clips = self[rows]
            return clips[rest] if clips.ndim == 2 else clips[(slice(None), *rest)]
        if isinstance(key, slice):
            return self.read(np.arange(len(self))[key])
        rows = np.asarray(key)
        if rows.dtype == bool:
            if rows.shape != (len(self),):
                raise IndexError(
                    f"boolean index of shape {rows.shape} does not match the store's "
                    f"{len(self)} clips."
                )
            rows = np.flatnonzero(rows)
        if not np.issubdtype(rows.dtype, np.integer):
            raise IndexError(f"a FeatureStore is indexed by rows (ints); got {rows.dtype}.")
        single = rows.ndim == 0
        out = self.read(rows.reshape(-1))
        return out[0] if single else out.reshape(*rows.shape, *self.shape[1:])

    @classmethod
    def from_array(cls, X, folder=None):
        """A store holding the clips ``X`` (array-like ``(n_clips, n_mels, n_frames)``).

        ``folder=None`` gives a temporary file (deleted with the store); a folder keeps it.
        Stores larger than memory are written by the transformer, a chunk of files at a time.
        """
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 3:
            raise ValueError(f"X must be 3-D (n_clips, n_mels, n_frames); got shape {X.shape}.")
        store = cls._create(folder, X.shape)
        store._write(X)
        return store._finish()

    # -- reading --------------------------------------------------------------------

    def read(self, rows, out=None):
        """The clips ``rows`` as float32 ``(len(rows), n_mels, n_frames)``, into ``out``.

        Consecutive rows are read with one system call; ``out`` (C-contiguous, float32) is
        filled in place when given, so that a reused buffer keeps memory flat.
        """
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        n = len(self)
        if rows.size and (rows.min() < -n or rows.max() >= n):
            bad = rows[(rows < -n) | (rows >= n)][0]
            raise IndexError(f"row {bad} is out of range for a store of {n} clips.")
        rows = np.where(rows < 0, rows + n, rows)
        if out is None:
            out = np.empty((rows.size, *self.shape[1:]), dtype=np.float32)
        elif out.shape != (rows.size, *self.shape[1:]) or not out.flags.c_contiguous:
            raise ValueError(f"out must be C-contiguous of shape {(rows.size, *self.shape[1:])}.")
        if not rows.size:
            return out
        flat = out.reshape(rows.size, -1).view(np.uint8)
        row_bytes = self._row_bytes
        # Runs of consecutive rows: one positional read each.
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, rows.size], strict=True):
            offset = _DATA_OFFSET + int(rows[lo]) * row_bytes
            view = memoryview(flat[lo:hi]).cast("B")
            done = 0
            while done < len(view):
                got = os.preadv(self._fd, [view[done:]], offset + done)
                if got <= 0:
                    raise OSError(f"feature store {self.path!r} ended early (truncated?).")
                done += got
        return out

    # -- pickling -------------------------------------------------------------------

    def __reduce__(self):
        # By reference: the file, checked by its digest when reopened. A temporary store
        # lives as long as the object that created it.
        return _reopen, (self.path, self.shape, self.digest)

    # -- writing (used by the transformer) ------------------------------------------

    @classmethod
    def _create(cls, folder, shape):
        """An empty store of ``shape`` to fill with :meth:`_write`, then :meth:`_finish`.

        ``folder=None``: a temporary file (``tempfile.gettempdir()``), deleted with the store.
        A folder: the file is kept there, named after its contents' digest.
        """
        temporary = folder is None
        if not temporary:
            os.makedirs(folder, exist_ok=True)
        fd, path = tempfile.mkstemp(
            prefix="skaudio_ad-features-",
            suffix=".f32" if temporary else ".f32.part",
            dir=None if temporary else folder,
        )
        store = cls.__new__(cls)
        store._open(path, fd, shape, "", temporary=True)  # deleted if filling fails
        store._hash = hashlib.blake2b(digest_size=32)
        store._hash.update(np.asarray(store.shape, dtype="<u8").tobytes())
        store._written = 0
        store._keep_in = None if temporary else folder
        os.ftruncate(fd, _DATA_OFFSET + store.nbytes)
        return store

    def _write(self, block):
        """Append the clips ``block`` (float32 ``(k, n_mels, n_frames)``), in order."""
        block = np.ascontiguousarray(block, dtype=np.float32)
        if block.shape[1:] != self.shape[1:] or self._written + len(block) > len(self):
            raise ValueError(f"block of shape {block.shape} does not fit store {self.shape}.")
        data = memoryview(block.reshape(-1).view(np.uint8))
        offset = _DATA_OFFSET + self._written * self._row_bytes
        done = 0
        while done < len(data):
            done += os.pwrite(self._fd, data[done:], offset + done)
        self._hash.update(data)
        self._written += len(block)

    def _finish(self):
        if self._written != len(self):
            raise ValueError(f"store filled with {self._written} of {len(self)} clips.")
        digest = self._hash.digest()
        os.pwrite(self._fd, _HEADER.pack(_MAGIC, *self.shape, digest), 0)
        self.digest = digest.hex()
        del self._hash, self._written
        if self._keep_in is not None:
            final = os.path.join(self._keep_in, f"features-{self.digest[:20]}.f32")
            os.replace(self.path, final)
            self._finalizer.detach()
            self._open(final, self._fd, self.shape, self.digest, temporary=False)
        del self._keep_in
        return self


def _close(fd, path):
    try:
        os.close(fd)
    finally:
        if path is not None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def _reopen(path, shape, digest):
    try:
        store = FeatureStore(path)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"the feature store {path!r} no longer exists: a temporary store "
            "(feature_store='auto') is deleted with the object that wrote it. Give "
            "MelSpectrogramTransformer(feature_store=<folder>) to keep the features on disk."
        ) from None
    if store.shape != tuple(shape) or store.digest != digest:
        raise ValueError(f"the feature store {path!r} changed since it was pickled.")
    return store


def store_folder(feature_store, nbytes):
    """Where the transformer writes a store for ``nbytes`` of output: None = keep in memory.

    Returns ``(write, folder)``: ``write`` False means an in-memory array; ``folder`` None
    means a temporary file.
    """
    if feature_store is None:
        return False, None
    if isinstance(feature_store, str) and feature_store == "auto":
        return nbytes > AUTO_STORE_BYTES, None
    return True, os.fspath(feature_store)


def transform_to_store(transformer, paths, shape, folder):
    """The log-mel spectrograms of ``paths`` written chunk by chunk into a new store.

    ``transformer`` computes each chunk through its own ``transform`` (with the store
    switched off), so that features equal the in-memory output bit for bit.
    """
    from sklearn.base import clone

    inner = clone(transformer).set_params(feature_store=None)
    store = FeatureStore._create(folder, shape)
    per_chunk = max(1, CHUNK_BYTES // (shape[1] * shape[2] * 4))
    for lo in range(0, len(paths), per_chunk):
        chunk = paths[lo : lo + per_chunk]
        try:
            block = inner.transform(chunk)
        except ValueError as exc:
            exc.add_note(
                f"(while writing files {lo}..{lo + len(chunk) - 1} of X to a feature store: "
                f"a clip number in the message counts from file {lo}, {os.fspath(chunk[0])!r})"
            )
            raise
        store._write(block)
        del block
    return store._finish()
