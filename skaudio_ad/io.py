"""Read audio files as fixed-rate, fixed-length mono clips: the package's only reader.

Files are decoded with soundfile (WAV, FLAC, OGG, ...), one channel is picked (or the
channels are averaged), the signal is resampled to ``sr`` with
``librosa.resample(res_type="soxr_hq")`` when the file's rate differs, and it is cropped or
zero-padded to ``duration`` seconds when given.

:func:`iter_clips` is the reader that everything else uses (the transformer's path input and
every command of ``skaudio-ad``): it yields chunks of equal-length waveforms and applies an
error policy to each file that cannot be used -- raise, or report ``(path, reason)`` to a
callable and go on. It owns every check on a file:

* the path must name a regular file: a missing file, a folder, a broken symbolic link, a
  symbolic-link loop, a named pipe (FIFO), a device or a socket is refused *before opening*,
  so that nothing blocks;
* the header must promise audio: not empty, the channel present, ``offset`` inside the file,
  and at most :data:`MAX_DECODED_BYTES` of decoded samples (``/dev/zero`` renamed ``.wav``
  cannot exhaust memory); with ``n_samples`` set, a file of another length is refused from
  its header, before decoding;
* the decoded samples must be finite and within :data:`MAX_ABS_SAMPLE` of zero;
* without ``duration``, files shorter than ``min_samples`` are "too short" and all files
  must share one length; with ``duration`` every file is cropped or zero-padded to it.

:func:`read_audio`, :func:`load_audio` and :func:`iter_audio_chunks` are the same reader with
``on_error="raise"`` that return samples as decoded (NaN included). :func:`as_waveforms`
states the rule for integer arrays; :func:`find_audio` lists the audio files of folders.
A file that cannot be used raises :class:`~skaudio_ad.exceptions.AudioReadError`, a
``ValueError`` naming the file.
"""

import errno
import os
import stat
from collections import namedtuple
from numbers import Integral, Real

import librosa
import numpy as np
import soundfile as sf

from .exceptions import AudioReadError  # noqa: F401  (public here too, as in 0.1)

__all__ = [
    "MAX_ABS_SAMPLE",
    "MAX_DECODED_BYTES",
    "as_waveforms",
    "find_audio",
    "iter_audio_chunks",
    "iter_clips",
    "load_audio",
    "read_audio",
]

# Same resampler as librosa.load's default, so a file read here equals
# librosa.load(path, sr=sr) sample for sample.
_RES_TYPE = "soxr_hq"

#: Largest decoded size of one file, in bytes of float samples (frames x channels x 4 for
#: float32, at the file's own rate and channel count, and again after resampling to ``sr``),
#: checked from the header before decoding: 64 MiB is 17 minutes of mono 16 kHz audio, or 2
#: minutes of 8-channel 16 kHz (a MIMII clip of 10 s takes 5 MiB). Resampling needs a few
#: times that, so one file stays far below a gigabyte. A file needing more is refused; read
#: long recordings in parts with ``offset`` and ``duration`` (which decode only the part asked
#: for), or raise this module attribute.
MAX_DECODED_BYTES = 64 * 2**20

#: Largest magnitude of a decoded sample. Files of integer samples decode to [-1, 1);
#: float files may exceed full scale a little, but 1e6 (120 dB above full scale) is no
#: recording: such a file is damaged, and its spectrogram would overflow.
MAX_ABS_SAMPLE = 1e6

#: Suffixes :func:`find_audio` looks for in folders.
AUDIO_SUFFIXES = (".wav", ".flac")

ClipChunk = namedtuple("ClipChunk", ["indices", "paths", "X"])
ClipChunk.__doc__ = """A chunk of clips from :func:`iter_clips`.

Attributes
----------
indices : np.ndarray [shape=(n,), dtype=int]
    Positions in the ``paths`` given to :func:`iter_clips` of the chunk's files.
paths : list of (str or os.PathLike)
    The chunk's files, ``paths[i]`` gave row ``i`` of ``X``.
X : np.ndarray [shape=(n, n_samples)]
    Their mono waveforms.
"""


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


def _check_count(value, name, *, allow_none=True):
    if value is None and allow_none:
        return
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int{' or None' if allow_none else ''}; "
                         f"got {value!r}.")


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


def _error_policy(on_error):
    if isinstance(on_error, str) and on_error == "raise":
        def policy(exc):
            raise exc
        return policy
    if callable(on_error):
        return lambda exc: on_error(exc.path, exc.reason)
    raise ValueError(
        f"on_error must be 'raise' or a callable on_error(path, reason); got {on_error!r}."
    )


# ----------------------------------------------------------------------------- one file


def _stat_problem(path):
    """Why ``path`` is not a regular file (None when it is), from ``os.stat`` alone."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "broken symbolic link" if os.path.lexists(path) else "no such file"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        return f"cannot access it ({exc.strerror or exc})"
    if stat.S_ISDIR(st.st_mode):
        return "it is a directory"
    if not stat.S_ISREG(st.st_mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a plain file")
        return (f"not a regular file ({kind}); only regular audio files are read, never "
                "streams that could block or never end")
    return None


def _open(path):
    """Open ``path`` with soundfile, turning every failure into an AudioReadError."""
    problem = _stat_problem(path)
    if problem is not None:
        raise AudioReadError(path, problem)
    try:
        return sf.SoundFile(path)
    except Exception as exc:  # libsndfile reports damage as several types
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


def _resampled_length(n, native_sr, sr):
    # librosa.resample's own expression (0.10, 0.11); _read enforces it, so header
    # scans and decoded clips agree whatever the resampler returns.
    return n if native_sr == sr else int(np.ceil(n * (float(sr) / native_sr)))


class _Spec:
    """What the caller wants of every file (checked once)."""

    def __init__(self, *, sr, channel, duration, offset, dtype, n_samples=None,
                 min_samples=None, checked=True, max_bytes=None):
        self.sr, self.channel, self.duration, self.offset = sr, channel, duration, offset
        self.dtype = np.dtype(dtype)
        self.n_samples, self.min_samples, self.checked = n_samples, min_samples, checked
        self.max_bytes = MAX_DECODED_BYTES if max_bytes is None else max_bytes

    def out_length(self, n_content, native_sr):
        if self.duration is not None:
            return round(self.duration * self.sr)
        return _resampled_length(n_content, native_sr, self.sr)


def _header(path, f, spec):
    """``(start, n_read, n_out)`` for an open file, or AudioReadError: no sample decoded yet."""
    native_sr, n_channels, n_frames = f.samplerate, f.channels, f.frames
    if n_frames <= 0:
        raise AudioReadError(path, "the file holds no audio frames (it is empty)")
    if native_sr <= 0 or n_channels <= 0:
        raise AudioReadError(path, f"its header is damaged ({native_sr} Hz, {n_channels} "
                             "channels)")
    channel = spec.channel
    if channel != "mean" and channel >= n_channels:
        raise AudioReadError(
            path,
            f"channel={channel} is out of range for a file with {n_channels} channel(s); "
            f"use 0..{n_channels - 1} or 'mean'",
        )
    start = _start_frame(path, spec.offset, native_sr, n_frames)
    n_read = n_frames - start
    if spec.duration is not None:
        n_read = min(n_read, round(spec.duration * native_sr))
    decoded = n_read * n_channels * spec.dtype.itemsize
    if decoded > spec.max_bytes:
        raise AudioReadError(
            path,
            f"it would decode to {decoded / 2**20:.0f} MiB ({n_read} frames x {n_channels} "
            f"channels, {n_read / native_sr:.0f} s), more than the {spec.max_bytes / 2**20:.0f}"
            " MiB limit (skaudio_ad.io.MAX_DECODED_BYTES); read it in parts with offset and "
            "duration",
        )
    n_out = spec.out_length(n_read, native_sr)
    if n_out * spec.dtype.itemsize > spec.max_bytes:
        raise AudioReadError(
            path,
            f"at sr={spec.sr:g} it would last {n_out / spec.sr:.0f} s ({n_out} samples; its "
            f"header says {native_sr} Hz), more than the {spec.max_bytes / 2**20:.0f} MiB "
            "limit (skaudio_ad.io.MAX_DECODED_BYTES)",
        )
    if spec.duration is None:
        sr = spec.sr
        if spec.min_samples is not None and n_out < spec.min_samples:
            raise AudioReadError(
                path,
                f"too short: {n_out / sr:.3f} s ({n_out} samples at {sr:g} Hz), less than one "
                f"analysis window of {spec.min_samples} samples ({spec.min_samples / sr:.3f} s);"
                " use longer recordings, or a fixed duration to zero-pad them",
            )
        if spec.n_samples is not None and n_out != spec.n_samples:
            raise AudioReadError(
                path,
                f"it lasts {n_out / sr:.3f} s ({n_out} samples at {sr:g} Hz), but clips of "
                f"{spec.n_samples / sr:.3f} s ({spec.n_samples} samples) are expected; fix a "
                "duration to crop or zero-pad every file to one length",
            )
    return start, n_read, n_out


def _read(path, spec):
    """The waveform of one file, of exactly the expected length, or AudioReadError."""
    with _open(path) as f:
        start, n_read, n_out = _header(path, f, spec)
        native_sr = f.samplerate
        read_dtype = "float64" if spec.dtype == np.float64 else "float32"
        try:
            f.seek(start)
            data = f.read(frames=n_read, dtype=read_dtype, always_2d=True)
        except Exception as exc:  # libsndfile's decoding errors come as several types
            raise AudioReadError(path, f"decoding failed ({exc})") from exc
    if len(data) == 0:
        raise AudioReadError(path, "no audio frames could be decoded")
    # Channel mean before resampling: both are linear, and it resamples one signal, not all.
    y = data.mean(axis=1) if spec.channel == "mean" else data[:, spec.channel]
    y = np.ascontiguousarray(y)
    if spec.checked:
        _check_samples(path, y)
    if native_sr != spec.sr:
        n_resampled = _resampled_length(len(y), native_sr, spec.sr)
        try:
            y = librosa.resample(y, orig_sr=native_sr, target_sr=spec.sr, res_type=_RES_TYPE)
        except Exception as exc:  # absurd rates of a damaged header
            raise AudioReadError(path, f"cannot resample from {native_sr} Hz to {spec.sr:g} Hz "
                                 f"({exc})") from exc
        y = librosa.util.fix_length(y, size=n_resampled)
    if spec.duration is not None:
        y = librosa.util.fix_length(y, size=n_out)
    elif len(y) != n_out:
        # Only when a header's frame count disagrees with what decodes (a damaged file).
        raise AudioReadError(path, f"decoded {len(y)} samples where its header promised {n_out}")
    return y.astype(spec.dtype, copy=False)


def _check_samples(path, y):
    with np.errstate(over="ignore", invalid="ignore"):
        peak = float(np.max(np.abs(y)))
    if not np.isfinite(peak):
        raise AudioReadError(path, "it holds NaN or infinite samples (a damaged float file)")
    if peak > MAX_ABS_SAMPLE:
        raise AudioReadError(
            path,
            f"it holds samples of magnitude {peak:.3g}, far beyond full scale (1.0); such a "
            f"file is damaged (skaudio_ad.io.MAX_ABS_SAMPLE = {MAX_ABS_SAMPLE:g})",
        )


def _length_of(path, spec):
    """The output length of ``path`` from its header alone (no decoding)."""
    with _open(path) as f:
        return _header(path, f, spec)[2]


def _common_length(paths, spec, policy):
    """The length every file in ``paths`` yields and which files are usable, from headers.

    Files whose header is unusable go to ``policy``; the others must agree on one length,
    else a ValueError names the lengths found with an example file for each.
    """
    by_length, usable = {}, np.zeros(len(paths), dtype=bool)
    for i, path in enumerate(paths):
        try:
            n = _length_of(path, spec)
        except AudioReadError as exc:
            policy(exc)
            continue
        usable[i] = True
        by_length.setdefault(n, []).append(path)
    if len(by_length) > 1:
        found = "; ".join(
            f"{n} samples in {len(group)} file(s), e.g. {os.fspath(group[0])!r}"
            for n, group in sorted(by_length.items(), key=lambda item: -len(item[1]))
        )
        raise ValueError(
            f"the files have different lengths at sr={spec.sr} (duration=None): {found}. "
            "Pass duration=<seconds> to crop or zero-pad every file to one length."
        )
    return (next(iter(by_length)) if by_length else None), usable


# ----------------------------------------------------------------------------- the reader


def iter_clips(paths, *, sr=16000, channel=0, duration=None, offset=0.0, n_samples=None,
               min_samples=None, chunk_size=64, dtype=np.float32, on_error="raise"):
    """Read audio files a chunk at a time as equal-length clips, applying an error policy.

    The reader behind the transformer's path input and the command line. Arguments are
    checked, and (without ``duration`` and ``n_samples``) every file header is read to find
    the common length, before the first chunk is decoded; decoding waits until the caller
    iterates, and only one chunk of waveforms is held at a time.

    Parameters
    ----------
    paths : sequence of (str or os.PathLike), or one path
        Audio files.
    sr : float > 0, default=16000
        Sampling rate of the clips, in Hz (files are resampled when needed).
    channel : int >= 0 or "mean", default=0
        Channel to keep, or ``"mean"`` to average all channels.
    duration : float > 0 or None, default=None
        Crop or zero-pad every clip to ``round(duration * sr)`` samples; only that part of a
        file is decoded. Short files are padded, never refused.
    offset : float >= 0, default=0.0
        Seconds skipped at the start of every file.
    n_samples : int > 0 or None, default=None
        Without ``duration``: the length every clip must have, e.g. the length a model was
        fitted on. A file of another length is refused from its header. None: the files
        must agree among themselves (checked from the headers).
    min_samples : int > 0 or None, default=None
        Without ``duration``: refuse files shorter than this as "too short" (e.g. ``n_fft``).
        Ignored with ``duration``.
    chunk_size : int > 0, default=64
        Files per chunk.
    dtype : {np.float32, np.float64}, default=np.float32
        Data type of the clips.
    on_error : "raise" or callable, default="raise"
        What to do with a file that cannot be used: ``"raise"`` raises its
        :class:`~skaudio_ad.exceptions.AudioReadError`; a callable ``on_error(path, reason)``
        is called (``reason`` in words) and the file is skipped.

    Yields
    ------
    chunk : namedtuple ``ClipChunk(indices, paths, X)``
        ``X[j]`` of shape ``(n_samples,)`` came from
        ``paths[j]``, which is the input's ``paths[indices[j]]``. Chunks whose files all
        failed are not yielded.

    Raises
    ------
    AudioReadError
        With ``on_error="raise"``: a file is missing, not a regular file (a folder, a FIFO,
        a device, a symbolic-link loop), not audio, empty, lacks the channel, is longer than
        :data:`MAX_DECODED_BYTES` allows, is too short or of the wrong length, or holds NaN,
        infinite or absurdly large samples.
    ValueError
        An argument is invalid, or (without ``duration`` and ``n_samples``) the usable files
        have different lengths: the message lists them with an example file each.

    See Also
    --------
    load_audio : Several files as one array, samples as decoded.
    find_audio : The audio files of folders.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> from skaudio_ad.io import iter_clips
    >>> rng = np.random.default_rng(0)
    >>> folder = tempfile.mkdtemp()
    >>> paths = [os.path.join(folder, f"{i}.wav") for i in range(3)]
    >>> for path in paths:
    ...     sf.write(path, 0.1 * rng.standard_normal(800), 8000)
    >>> paths.insert(1, os.path.join(folder, "missing.wav"))
    >>> problems = []
    >>> chunks = iter_clips(paths, sr=8000, chunk_size=2,
    ...                     on_error=lambda path, reason: problems.append(reason))
    >>> [(chunk.indices.tolist(), chunk.X.shape) for chunk in chunks]
    [([0, 2], (2, 800)), ([3], (1, 800))]
    >>> problems
    ['no such file']
    """
    _check_read_params(sr, channel, duration, offset, dtype)
    _check_count(chunk_size, "chunk_size", allow_none=False)
    _check_count(n_samples, "n_samples")
    _check_count(min_samples, "min_samples")
    paths = _as_path_list(paths)
    policy = _error_policy(on_error)
    spec = _Spec(sr=sr, channel=channel, duration=duration, offset=offset, dtype=dtype,
                 n_samples=n_samples, min_samples=min_samples)
    return _chunks(paths, spec, chunk_size, policy)


def _chunks(paths, spec, chunk_size, policy):
    """Checks run now (a plain function); the generator decodes when iterated."""
    usable = np.ones(len(paths), dtype=bool)
    if spec.duration is None and spec.n_samples is None:
        n_samples, usable = _common_length(paths, spec, policy)
        if n_samples is None:
            return iter(())
        spec.n_samples = n_samples
    return _decode_chunks(paths, spec, chunk_size, policy, usable)


def _decode_chunks(paths, spec, chunk_size, policy, usable):
    n_samples = spec.out_length(0, spec.sr) if spec.duration is not None else spec.n_samples
    todo = np.flatnonzero(usable)
    for lo in range(0, len(todo), chunk_size):
        rows, kept = [], []
        for i in todo[lo : lo + chunk_size]:
            try:
                rows.append(_read(paths[i], spec))
            except AudioReadError as exc:
                policy(exc)
            else:
                kept.append(i)
        if kept:
            X = np.empty((len(rows), n_samples), dtype=spec.dtype)
            for row, y in zip(X, rows, strict=True):
                row[:] = y
            yield ClipChunk(np.asarray(kept), [paths[i] for i in kept], X)


def read_audio(path, *, sr=16000, channel=0, duration=None, offset=0.0, dtype=np.float32):
    """Read one audio file as a mono waveform at ``sr``, samples as decoded.

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
        Mono waveform in [-1, 1) for integer-coded files; NaN or inf samples of a float
        file are returned as they are (:func:`iter_clips` refuses them).

    Raises
    ------
    AudioReadError
        The file is missing, not a regular file, not audio, holds no frames, has no
        channel ``channel``, decodes to more than :data:`MAX_DECODED_BYTES`, or ``offset``
        lies past its end. The message names the file.

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
    spec = _Spec(sr=sr, channel=channel, duration=duration, offset=offset, dtype=dtype,
                 checked=False)
    return _read(path, spec)


def load_audio(paths, *, sr=16000, channel=0, duration=None, offset=0.0, dtype=np.float32):
    """Read audio files into one array, one row per file, samples as decoded.

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
    iter_clips : The checked reader with an error policy.
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
    chunks = iter_audio_chunks(paths, 64, sr=sr, channel=channel, duration=duration,
                               offset=offset, dtype=dtype)
    return np.concatenate([X for _, X in chunks])


def iter_audio_chunks(
    paths, chunk_size=64, *, sr=16000, channel=0, duration=None, offset=0.0, dtype=np.float32
):
    """Read audio files a chunk at a time, to stream more files than fit in memory.

    Arguments are checked, and (without ``duration``) every file header is read
    to check that the files share one length, before the first chunk is decoded.
    Samples are returned as decoded; any unusable file raises.

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
    iter_clips : The checked reader with an error policy.
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
    _check_count(chunk_size, "chunk_size", allow_none=False)
    paths = _as_path_list(paths)
    spec = _Spec(sr=sr, channel=channel, duration=duration, offset=offset, dtype=dtype,
                 checked=False)
    chunks = _chunks(paths, spec, chunk_size, _error_policy("raise"))
    return ((int(chunk.indices[0]), chunk.X) for chunk in chunks)


# ----------------------------------------------------------------------------- arrays


def as_waveforms(X):
    """Integer PCM arrays as float waveforms, by soundfile's rule; float arrays unchanged.

    The rule, the one soundfile applies when it decodes integer files to float: a signed
    integer of ``b`` bits is divided by ``2 ** (b - 1)`` (int16 by 32768, int32 by 2**31,
    int8 by 128, int64 by 2**63), so full scale maps to [-1, 1); ``uint8`` is offset binary,
    as in 8-bit WAV files: ``(x - 128) / 128``. Wider unsigned integers and booleans have no
    PCM meaning and are refused. Float arrays are returned as they are.

    Parameters
    ----------
    X : array-like
        Waveforms of any shape.

    Returns
    -------
    X : np.ndarray
        Float32 for integer input (float64 for int32 and int64, whose precision float32
        would lose); float input as given.

    Raises
    ------
    ValueError
        For unsigned integers wider than 8 bits and booleans.

    Examples
    --------
    >>> import numpy as np
    >>> from skaudio_ad.io import as_waveforms
    >>> as_waveforms(np.array([-32768, 0, 16384], dtype=np.int16))
    array([-1. ,  0. ,  0.5], dtype=float32)
    >>> as_waveforms(np.array([0, 128, 192], dtype=np.uint8))
    array([-1. ,  0. ,  0.5], dtype=float32)
    """
    X = np.asarray(X)
    kind = X.dtype.kind
    if kind == "b" or (kind == "u" and X.dtype.itemsize > 1):
        raise ValueError(
            f"X has dtype {X.dtype}, which has no audio meaning: pass float waveforms, or "
            "signed integer PCM (int16 ...) or uint8, which are scaled as soundfile does."
        )
    if kind == "i":
        bits = 8 * X.dtype.itemsize
        out = np.float64 if bits > 16 else np.float32
        return X.astype(out) / out(2.0 ** (bits - 1))
    if kind == "u":
        return (X.astype(np.float32) - np.float32(128)) / np.float32(128)
    return X


# ----------------------------------------------------------------------------- folders


def find_audio(inputs, *, suffixes=AUDIO_SUFFIXES, on_error="raise"):
    """The audio files named by ``inputs``: files as given, folders searched recursively.

    Folders are searched for files ending in ``suffixes`` (any case), following symbolic
    links to folders once; a symbolic-link loop or a broken link is reported wherever it is
    found, named or inside a folder, never skipped silently. Each file appears once.

    Parameters
    ----------
    inputs : sequence of (str or os.PathLike)
        Audio files and folders.
    suffixes : tuple of str, default=(".wav", ".flac")
        File endings searched for in folders.
    on_error : "raise" or callable, default="raise"
        Policy for an input that does not exist, a link loop, an unreadable folder or a
        folder without audio files, as in :func:`iter_clips`.

    Returns
    -------
    paths : list of str
        Named files in the order given, each folder's files sorted.

    Examples
    --------
    >>> import os, tempfile
    >>> from skaudio_ad.io import find_audio
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "fan"))
    >>> for name in ("fan/b.wav", "fan/a.flac", "fan/notes.txt"):
    ...     open(os.path.join(root, name), "wb").close()
    >>> os.symlink(root, os.path.join(root, "fan", "loop"))
    >>> [os.path.relpath(p, root) for p in find_audio(
    ...     [root], on_error=lambda path, reason: print(os.path.basename(path), reason))]
    loop symbolic link loop: it leads back to a folder being searched
    ['fan/a.flac', 'fan/b.wav']
    """
    policy = _error_policy(on_error)
    suffixes = tuple(s.lower() for s in suffixes)
    paths = []
    for item in inputs:
        problem = _stat_problem(item)
        if problem == "it is a directory":
            found = []
            _walk(os.fspath(item), suffixes, policy, found, set())
            if not found:
                policy(AudioReadError(item, f"no {'/'.join(suffixes)} files in this folder"))
            paths.extend(sorted(found))
        elif problem in ("no such file", "broken symbolic link", "symbolic link loop"):
            policy(AudioReadError(item, "no such file or folder" if problem == "no such file"
                                  else problem))
        else:  # a file; iter_clips refuses what is not a regular one
            paths.append(os.fspath(item))
    # A file named twice (directly and through its folder) is read once.
    return list(dict.fromkeys(paths))


def _walk(folder, suffixes, policy, found, ancestors):
    real = os.path.realpath(folder)
    if real in ancestors:
        policy(AudioReadError(folder, "symbolic link loop: it leads back to a folder being "
                              "searched"))
        return
    ancestors = ancestors | {real}
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        policy(AudioReadError(folder, f"cannot list this folder ({exc.strerror or exc})"))
        return
    for entry in entries:
        problem = _stat_problem(entry.path)
        if problem == "it is a directory":
            _walk(entry.path, suffixes, policy, found, ancestors)
        elif problem in ("symbolic link loop", "broken symbolic link"):
            policy(AudioReadError(entry.path, problem))
        elif entry.name.lower().endswith(suffixes):
            found.append(entry.path)
