"""Read audio files as fixed-rate, fixed-length mono clips.

Every function returns one row per file, in the order of ``paths``, so row ``i``
came from ``paths[i]``. Files are decoded with soundfile (WAV, FLAC, OGG, ...),
one channel is picked (or the channels are averaged), the signal is resampled
to ``sr`` with ``librosa.resample(res_type="soxr_hq")`` when the file's rate
differs, and it is cropped or zero-padded to ``duration`` seconds when given.
A file that cannot be read raises :class:`AudioReadError`, a ``ValueError``
that names the file.
"""

import os
from numbers import Integral, Real

import numpy as np
import soundfile as sf

__all__ = ["AudioReadError", "iter_audio_chunks", "load_audio", "read_audio"]

# Same resampler as librosa.load's default, so a file read here equals
# librosa.load(path, sr=sr) sample for sample.
_RES_TYPE = "soxr_hq"


class AudioReadError(ValueError):
    """A file could not be read as audio.

    Parameters
    ----------
    path : str or os.PathLike
        The file, as the caller gave it.
    reason : str
        What went wrong, in words.

    Attributes
    ----------
    path : str or os.PathLike
        The file, as the caller gave it.
    reason : str
        What went wrong, in words.
    """

    def __init__(self, path, reason):
        self.path = path
        self.reason = reason
        super().__init__(f"cannot read audio file {os.fspath(path)!r}: {reason}")

    def __reduce__(self):
        # The default reduce would call __init__(message) and lose `path`.
        return (type(self), (self.path, self.reason))


def _check_read_params(sr, channel, duration, offset, dtype):
    if not isinstance(sr, Real) or isinstance(sr, bool) or not sr > 0:
        raise ValueError(f"sr must be a positive number of samples per second; got {sr!r}.")
    if isinstance(channel, str):
        if channel != "mean":
            raise ValueError(f"channel must be a non-negative int or 'mean'; got {channel!r}.")
    elif not isinstance(channel, Integral) or isinstance(channel, bool) or channel < 0:
        raise ValueError(f"channel must be a non-negative int or 'mean'; got {channel!r}.")
    if duration is not None and (
        not isinstance(duration, Real) or isinstance(duration, bool) or not duration > 0
    ):
        raise ValueError(
            f"duration must be a positive number of seconds or None; got {duration!r}."
        )
    if not isinstance(offset, Real) or isinstance(offset, bool) or not offset >= 0:
        raise ValueError(f"offset must be a non-negative number of seconds; got {offset!r}.")
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64; got {np.dtype(dtype)}.")


def _as_path_list(paths):
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    try:
        paths = list(paths)
    except TypeError:
        raise ValueError(
            f"paths must be a path or a sequence of paths; got {type(paths).__name__}."
        ) from None
    if not paths:
        raise ValueError("paths is empty: give at least one audio file.")
    for path in paths:
        if not isinstance(path, (str, os.PathLike)):
            raise ValueError(
                f"paths must hold str or os.PathLike items; got {type(path).__name__} {path!r}."
            )
    return paths


def _open(path):
    """Open ``path`` with soundfile, turning every failure into an AudioReadError."""
    # libsndfile reports a missing file as "System error": say what it is.
    if not os.path.exists(path):
        raise AudioReadError(path, "no such file")
    if os.path.isdir(path):
        raise AudioReadError(path, "it is a directory")
    try:
        return sf.SoundFile(path)
    except (sf.SoundFileError, RuntimeError, OSError, TypeError) as exc:
        raise AudioReadError(path, f"not a readable audio file ({exc})") from exc


def _start_frame(path, offset, native_sr, n_frames):
    start = round(offset * native_sr)
    if start >= n_frames:
        raise AudioReadError(
            path,
            f"offset={offset} s is at or past the end of the file "
            f"({n_frames} frames, {n_frames / native_sr:.3f} s)",
        )
    return start


def _n_samples(path, info, *, sr, duration, offset):
    """Number of samples ``read_audio`` returns for a file with header ``info``."""
    if duration is not None:
        return round(duration * sr)
    n_frames, native_sr = info
    if n_frames == 0:
        raise AudioReadError(path, "the file holds no audio frames (it is empty)")
    n_read = n_frames - _start_frame(path, offset, native_sr, n_frames)
    return _resampled_length(n_read, native_sr, sr)


def _resampled_length(n, native_sr, sr):
    # librosa.resample's own expression (0.10, 0.11); _read enforces it, so header
    # scans and decoded clips agree whatever the resampler returns.
    return n if native_sr == sr else int(np.ceil(n * (float(sr) / native_sr)))


def _probe(path):
    with _open(path) as f:
        return f.frames, f.samplerate


def _common_n_samples(paths, *, sr, duration, offset):
    """Samples per clip shared by every file in ``paths``, from the headers only.

    Raises ValueError naming the lengths found (and example files) when the
    files would yield clips of different lengths.
    """
    if duration is not None:
        return round(duration * sr)
    by_length = {}
    for path in paths:
        n = _n_samples(path, _probe(path), sr=sr, duration=None, offset=offset)
        by_length.setdefault(n, []).append(path)
    if len(by_length) > 1:
        found = "; ".join(
            f"{n} samples in {len(group)} file(s), e.g. {os.fspath(group[0])!r}"
            for n, group in sorted(by_length.items(), key=lambda item: -len(item[1]))
        )
        raise ValueError(
            f"the files have different lengths at sr={sr} (duration=None): {found}. "
            "Pass duration=<seconds> to crop or zero-pad every file to one length."
        )
    return next(iter(by_length))


def _read(path, *, sr, channel, duration, offset, dtype):
    read_dtype = "float64" if np.dtype(dtype) == np.float64 else "float32"
    with _open(path) as f:
        native_sr, n_channels, n_frames = f.samplerate, f.channels, f.frames
        if n_frames == 0:
            raise AudioReadError(path, "the file holds no audio frames (it is empty)")
        if channel != "mean" and channel >= n_channels:
            raise AudioReadError(
                path,
                f"channel={channel} is out of range for a file with {n_channels} channel(s); "
                f"use 0..{n_channels - 1} or 'mean'",
            )
        start = _start_frame(path, offset, native_sr, n_frames)
        n_read = -1 if duration is None else round(duration * native_sr)
        try:
            f.seek(start)
            data = f.read(frames=n_read, dtype=read_dtype, always_2d=True)
        except (sf.SoundFileError, RuntimeError) as exc:
            raise AudioReadError(path, f"decoding failed ({exc})") from exc
    if len(data) == 0:
        raise AudioReadError(path, "no audio frames could be decoded")
    # Channel mean before resampling: both are linear, and it resamples one signal, not all.
    y = data.mean(axis=1) if channel == "mean" else data[:, channel]
    y = np.ascontiguousarray(y)
    if native_sr != sr:
        import librosa  # on first use: importing it costs 0.4-1.7 s (numba)

        n_out = _resampled_length(len(y), native_sr, sr)
        y = librosa.resample(y, orig_sr=native_sr, target_sr=sr, res_type=_RES_TYPE)
        y = _fix_length(y, n_out)
    if duration is not None:
        y = _fix_length(y, round(duration * sr))
    return y.astype(dtype, copy=False)


def _fix_length(y, size):
    """``librosa.util.fix_length(y, size=size)``: crop, or zero-pad at the end."""
    return y[:size] if len(y) >= size else np.pad(y, (0, size - len(y)))


def read_audio(path, *, sr=16000, channel=0, duration=None, offset=0.0, dtype=np.float32):
    """Read one audio file as a mono waveform at ``sr``.

    Parameters
    ----------
    path : str or os.PathLike
        Audio file that soundfile can decode (WAV, FLAC, OGG, ...).
    sr : float > 0, default=16000
        Sampling rate of the returned waveform, in Hz. Files at another rate are
        resampled with ``librosa.resample(res_type="soxr_hq")``.
    channel : int >= 0 or "mean", default=0
        Channel to keep, or ``"mean"`` to average all channels.
    duration : float > 0 or None, default=None
        Seconds to return: the clip is cropped or zero-padded to
        ``round(duration * sr)`` samples. None keeps everything after ``offset``.
    offset : float >= 0, default=0.0
        Seconds skipped at the start of the file.
    dtype : {np.float32, np.float64}, default=np.float32
        Data type of the result.

    Returns
    -------
    y : np.ndarray [shape=(n_samples,)]
        Mono waveform in [-1, 1) for integer-coded files.

    Raises
    ------
    AudioReadError
        The file is missing, is not audio, holds no frames, has no channel
        ``channel``, or ``offset`` lies past its end. The message names the file.

    See Also
    --------
    load_audio : Several files as one ``(n_files, n_samples)`` array.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> from skaudio_ad.io import read_audio
    >>> rng = np.random.default_rng(0)
    >>> path = os.path.join(tempfile.mkdtemp(), "clip.wav")
    >>> sf.write(path, 0.1 * rng.standard_normal((8000, 2)), 8000)
    >>> read_audio(path, sr=16000, channel=1).shape
    (16000,)
    >>> read_audio(path, sr=8000, duration=1.5).shape
    (12000,)
    """
    _check_read_params(sr, channel, duration, offset, dtype)
    (path,) = _as_path_list([path])
    return _read(path, sr=sr, channel=channel, duration=duration, offset=offset, dtype=dtype)


def _read_into(paths, out, *, sr, channel, duration, offset):
    """Read ``paths`` into the rows of ``out`` (already sized to the common length)."""
    for row, path in zip(out, paths, strict=True):
        y = _read(path, sr=sr, channel=channel, duration=duration, offset=offset, dtype=out.dtype)
        if y.shape[0] != row.shape[0]:
            # Only when a header's frame count disagrees with what decodes.
            raise AudioReadError(
                path, f"decoded {y.shape[0]} samples where its header promised {row.shape[0]}"
            )
        row[:] = y
    return out


def load_audio(paths, *, sr=16000, channel=0, duration=None, offset=0.0, dtype=np.float32):
    """Read audio files into one array, one row per file.

    Without ``duration`` every file must yield the same number of samples; the
    file headers are checked before anything is decoded.

    Parameters
    ----------
    paths : sequence of (str or os.PathLike), or one path
        Audio files; row ``i`` of the result comes from ``paths[i]``.
    sr : float > 0, default=16000
        Sampling rate of the result, in Hz (files are resampled when needed).
    channel : int >= 0 or "mean", default=0
        Channel to keep, or ``"mean"`` to average all channels.
    duration : float > 0 or None, default=None
        Crop or zero-pad every clip to ``round(duration * sr)`` samples.
    offset : float >= 0, default=0.0
        Seconds skipped at the start of every file.
    dtype : {np.float32, np.float64}, default=np.float32
        Data type of the result.

    Returns
    -------
    X : np.ndarray [shape=(n_files, n_samples)]
        Mono waveforms, one row per file.

    Raises
    ------
    AudioReadError
        A file is missing, unreadable, empty or lacks the channel; names the file.
    ValueError
        The files have different lengths and ``duration`` is None; the message
        lists the lengths found with an example file for each.

    See Also
    --------
    iter_audio_chunks : The same rows, a chunk at a time.
    read_audio : One file.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> from skaudio_ad.io import load_audio
    >>> rng = np.random.default_rng(0)
    >>> folder = tempfile.mkdtemp()
    >>> paths = [os.path.join(folder, f"{i}.flac") for i in range(3)]
    >>> for path in paths:
    ...     sf.write(path, 0.1 * rng.standard_normal(16000), 16000)
    >>> X = load_audio(paths, sr=16000)
    >>> X.shape, X.dtype
    ((3, 16000), dtype('float32'))
    """
    _check_read_params(sr, channel, duration, offset, dtype)
    paths = _as_path_list(paths)
    n_samples = _common_n_samples(paths, sr=sr, duration=duration, offset=offset)
    out = np.empty((len(paths), n_samples), dtype=dtype)
    return _read_into(paths, out, sr=sr, channel=channel, duration=duration, offset=offset)


def iter_audio_chunks(
    paths, chunk_size=64, *, sr=16000, channel=0, duration=None, offset=0.0, dtype=np.float32
):
    """Read audio files a chunk at a time, to stream more files than fit in memory.

    Arguments are checked, and (without ``duration``) every file header is read
    to check that the files share one length, before the first chunk is decoded.

    Parameters
    ----------
    paths : sequence of (str or os.PathLike)
        Audio files.
    chunk_size : int > 0, default=64
        Files per chunk; only one chunk of waveforms is held at a time.
    sr, channel, duration, offset, dtype
        As in :func:`load_audio`.

    Yields
    ------
    start : int
        Index in ``paths`` of the chunk's first file: row ``j`` of ``X_chunk``
        came from ``paths[start + j]``.
    X_chunk : np.ndarray [shape=(min(chunk_size, n_files - start), n_samples)]
        Mono waveforms of ``paths[start:start + chunk_size]``.

    See Also
    --------
    load_audio : All files at once.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> from skaudio_ad.io import iter_audio_chunks
    >>> rng = np.random.default_rng(0)
    >>> folder = tempfile.mkdtemp()
    >>> paths = [os.path.join(folder, f"{i}.wav") for i in range(5)]
    >>> for path in paths:
    ...     sf.write(path, 0.1 * rng.standard_normal(800), 8000)
    >>> [(start, X.shape) for start, X in iter_audio_chunks(paths, 2, sr=8000)]
    [(0, (2, 800)), (2, (2, 800)), (4, (1, 800))]
    """
    _check_read_params(sr, channel, duration, offset, dtype)
    if not isinstance(chunk_size, Integral) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int; got {chunk_size!r}.")
    paths = _as_path_list(paths)
    n_samples = _common_n_samples(paths, sr=sr, duration=duration, offset=offset)
    # Checks above run now; decoding waits until the caller iterates.
    return _iter_chunks(paths, chunk_size, n_samples, sr, channel, duration, offset, dtype)


def _iter_chunks(paths, chunk_size, n_samples, sr, channel, duration, offset, dtype):
    for start in range(0, len(paths), chunk_size):
        chunk = paths[start : start + chunk_size]
        out = np.empty((len(chunk), n_samples), dtype=dtype)
        yield start, _read_into(
            chunk, out, sr=sr, channel=channel, duration=duration, offset=offset
        )
