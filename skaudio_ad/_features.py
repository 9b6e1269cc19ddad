"""Log-mel spectrograms of many clips at once, as a scikit-learn transformer."""

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from numbers import Integral, Real

import numpy as np
import scipy.fft
import scipy.sparse
from joblib import effective_n_jobs
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_array,
    check_is_fitted,
    validate_data,
)

from . import _store
from . import io as _io
from ._melscale import hann_window, mel_filters

__all__ = ["MelSpectrogramTransformer"]

# power_to_db's defaults (ref=1.0 makes the reference term 10*log10(1) = 0).
_AMIN = 1e-10

# Scratch per block of frames (float64 frames, complex128 spectrum, float32
# power). On the 2-core dev box 3-6 MiB blocks (about one ten-second clip) ran
# fastest; 1.5 MiB ran 10% slower, 24 MiB 2x slower.
_BLOCK_BYTES = 4 * 2**20
# Raw waveforms a worker holds at once (file input, channel means).
_TASK_BYTES = 16 * 2**20


def _n_frames(n_samples, n_fft, hop_length, center):
    """Frames librosa.stft returns for ``n_samples`` samples."""
    if center:
        n_samples = n_samples + 2 * (n_fft // 2)
    return 1 + (n_samples - n_fft) // hop_length


@lru_cache(maxsize=16)
def _mel_basis(sr, n_fft, n_mels, fmin, fmax):
    """librosa's mel filters as a float32 CSR matrix of shape (n_mels, 1 + n_fft // 2).

    Each FFT bin falls in at most two triangular filters, so the sparse product
    is ~30x fewer flops than a dense sgemm; it ran 3-4x faster, uses no BLAS
    threads, and sums every output in a fixed order, so results do not depend
    on how clips and frames are blocked.
    """
    basis, _ = mel_filters(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    return scipy.sparse.csr_array(basis)


@lru_cache(maxsize=16)
def _cached_window(window, win_length, n_fft):
    return _make_window(window, win_length, n_fft)


def _make_window(window, win_length, n_fft):
    if isinstance(window, str) and window == "hann":
        w = hann_window(win_length, n_fft)  # the default, without importing librosa
        w.setflags(write=False)
        return w
    import librosa

    w = librosa.filters.get_window(window, win_length, fftbins=True)
    w = librosa.util.pad_center(np.asarray(w, dtype=np.float64), size=n_fft)
    w.setflags(write=False)  # shared through the cache
    return w


def _fft_window(window, win_length, n_fft):
    try:
        return _cached_window(window, win_length, n_fft)
    except TypeError:  # unhashable: an array or list of weights
        return _make_window(window, win_length, n_fft)


def _power_spectrum(spectrum, power, out):
    """``|spectrum| ** power`` as float32 into ``out``; overwrites ``spectrum``."""
    # Interleaved (re, im) view: squaring it in place avoids complex temporaries.
    parts = spectrum.view(np.float64)
    np.square(parts, out=parts)
    if power == 2.0:
        np.add(parts[..., 0::2], parts[..., 1::2], out=out, casting="same_kind")
    else:
        sq = parts[..., 0::2]
        np.add(sq, parts[..., 1::2], out=sq)
        np.power(sq, power / 2.0, out=sq)
        np.copyto(out, sq, casting="same_kind")
    return out


def _log_mel(y, out, *, n_fft, hop_length, center, window, mel_basis, power, top_db):
    """Log-mel spectrograms of the clips ``y`` (n_clips, n_samples), written to ``out``.

    ``out`` is float32 of shape (n_clips, n_mels, n_frames). Equals, clip by clip,
    ``power_to_db(melspectrogram(y=clip, ...), ref=1.0, amin=1e-10, top_db=top_db)``.
    Windowing and FFT run in float64 as in librosa.stft: float32 FFTs were 1.5x
    faster but erred by 0.1 dB in bands ~100 dB below a pure tone. Power, mel
    projection and log run in float32, like librosa.
    """
    n_clips, n_samples = y.shape
    n_frames = out.shape[2]
    n_bins = n_fft // 2 + 1
    pad = n_fft // 2 if center else 0
    frame_bytes = n_fft * 8 + n_bins * (16 + 4)
    frames_per_block = max(1, _BLOCK_BYTES // frame_bytes)
    # Whole clips per block when they fit, else one long clip in blocks of frames.
    clips_per_block = max(1, min(n_clips, frames_per_block // n_frames))
    frames_per_block = min(n_frames, frames_per_block)

    padded = np.zeros((clips_per_block, n_samples + 2 * pad), dtype=y.dtype)
    frames_buf = np.empty((clips_per_block, frames_per_block, n_fft), dtype=np.float64)
    power_buf = np.empty(n_bins * clips_per_block * frames_per_block, dtype=np.float32)
    for c0 in range(0, n_clips, clips_per_block):
        c1 = min(c0 + clips_per_block, n_clips)
        k = c1 - c0
        # Zero padding = librosa >= 0.10's pad_mode="constant".
        padded[:k, pad : pad + n_samples] = y[c0:c1]
        frames = sliding_window_view(padded[:k], n_fft, axis=-1)[:, ::hop_length]
        for f0 in range(0, n_frames, frames_per_block):
            f1 = min(f0 + frames_per_block, n_frames)
            f = f1 - f0
            windowed = frames_buf[:k, :f]
            np.multiply(frames[:, f0:f1], window, out=windowed)
            spectrum = scipy.fft.rfft(windowed, axis=-1, overwrite_x=True)
            # Power written bin-major, (n_bins, k * f), the layout CSR @ dense wants:
            # strided writes here cost less than a transpose pass afterwards.
            S = power_buf[: n_bins * k * f].reshape(n_bins, k * f)
            _power_spectrum(spectrum, power, S.reshape(n_bins, k, f).transpose(1, 2, 0))
            mel = mel_basis @ S
            # Same float32 arithmetic as power_to_db: 10 * log10(max(amin, S)).
            np.maximum(mel, _AMIN, out=mel)
            np.log10(mel, out=mel)
            mel *= 10.0
            out[c0:c1, :, f0:f1] = mel.reshape(-1, k, f).transpose(1, 0, 2)
        if top_db is not None:
            # Per clip, as librosa 1.0 does for batches and as 0.11 does for one clip.
            clip_out = out[c0:c1]
            floor = clip_out.max(axis=(1, 2), keepdims=True) - np.float32(top_db)
            np.maximum(clip_out, floor, out=clip_out)
    return out


def _path_list(X):
    """``X`` as a list of paths when it is a 1-D sequence of paths, else None."""
    if isinstance(X, (str, bytes, os.PathLike)):
        raise ValueError(
            f"X is a single path ({os.fspath(X)!r}); pass a sequence of paths, e.g. [path]."
        )
    if scipy.sparse.issparse(X) or not hasattr(X, "__len__") or not hasattr(X, "__getitem__"):
        return None
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) != 1:
        return None
    dtype = getattr(X, "dtype", None)
    if dtype is not None and dtype.kind not in "OUS":
        return None
    items = list(X)
    is_path = [isinstance(item, (str, os.PathLike)) for item in items]
    if not items or not any(is_path):
        return None
    if not all(is_path):
        bad = items[is_path.index(False)]
        raise ValueError(
            f"X mixes file paths with other items (e.g. {type(bad).__name__} {bad!r}); "
            "pass either a sequence of paths or an array of waveforms."
        )
    return items


class _Clips:
    """Clips as one of the input kinds, handed out a block at a time."""

    def __init__(self, kind, data, n_clips, n_samples, channel=None):
        self.kind = kind  # "2d", "3d" or "paths"
        self.data = data
        self.n_clips = n_clips
        self.n_samples = n_samples
        self.channel = channel


def _check_finite(X, channel=None):
    """Raise naming the first clip of X (2-D, or 3-D with ``channel``) with NaN/inf."""
    Xc = X if X.ndim == 2 else (X if channel == "mean" else X[:, channel])
    # A sum per clip is a cheap screen with no input-sized temporary; only
    # flagged clips (NaN, inf, or a sum that overflowed) are checked exactly.
    axes = tuple(range(1, Xc.ndim))
    with np.errstate(over="ignore", invalid="ignore"):
        sums = Xc.sum(axis=axes)
    for i in np.flatnonzero(~np.isfinite(sums)):
        if not np.isfinite(Xc[i]).all():
            raise ValueError(
                f"X contains NaN or inf samples in clip {i} (X[{i}]); "
                "drop or repair that clip before transforming."
            )


def _as_float(X):
    """Integer PCM scaled by soundfile's rule (io.as_waveforms), other dtypes to float."""
    X = _io.as_waveforms(X)
    return X if X.dtype in (np.float32, np.float64) else X.astype(np.float64)


def _check_output_finite(out, clips):
    """Finite input can still overflow: float32 power ends near |x| ~ 1e19 / n_fft."""
    finite = np.isfinite(out.reshape(len(out), -1)).all(axis=1)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        source = f", read from {os.fspath(clips.data[i])!r}" if clips.kind == "paths" else ""
        raise ValueError(
            f"the log-mel spectrogram of clip {i}{source} overflows float32: its samples "
            "are too large. Scale the audio, e.g. to [-1, 1]."
        )


class MelSpectrogramTransformer(TransformerMixin, BaseEstimator):
    """Log-mel spectrograms in dB of audio clips, one row per clip.

    **Rows are clips.** A 2-D array is ``(n_clips, n_samples)``: one mono
    waveform per row. Some audio libraries read a 2-D array as
    ``(n_channels, n_samples)`` -- not here; pass multichannel audio as a 3-D
    array ``(n_clips, n_channels, n_samples)``. ``X`` may also be a 1-D
    sequence of audio file paths, read with :mod:`skaudio_ad.io`.

    The result equals, clip by clip, to about 1e-5 dB::

        librosa.power_to_db(
            librosa.feature.melspectrogram(y=clip, sr=sr, n_fft=n_fft, ...),
            ref=1.0, amin=1e-10, top_db=top_db)

    but is computed for many clips at once (strided framing, batched FFT, a
    sparse product with the mel basis) in blocks of bounded memory, on
    ``n_jobs`` threads. Results do not depend on batching or ``n_jobs``. The
    transformer is stateless: ``fit`` only records the clip length so that
    ``get_feature_names_out`` and later inputs can be checked.

    Parameters
    ----------
    sr : float > 0, default=16000
        Sampling rate of the clips, in Hz. Files at another rate are resampled.
    n_fft : int > 0, default=1024
        FFT length in samples. Clips shorter than ``n_fft`` are zero-padded by the centring
        with a warning, as in librosa; with ``center=False`` they are an error.
    hop_length : int > 0, default=512
        Samples between successive frames.
    win_length : int in [1, n_fft] or None, default=None
        Window length; the window is zero-padded to ``n_fft``. None means ``n_fft``.
    window : str, tuple, float, callable or array-like, default="hann"
        Window specification, as in ``librosa.filters.get_window``.
    center : bool, default=True
        Pad each clip with ``n_fft // 2`` zeros at both ends so that frame ``t``
        is centred on sample ``t * hop_length`` (librosa's ``pad_mode="constant"``).
    n_mels : int > 0, default=64
        Number of mel bands.
    fmin : float >= 0, default=0.0
        Lowest frequency of the mel filters, in Hz.
    fmax : float > fmin or None, default=None
        Highest frequency of the mel filters, in Hz. None means ``sr / 2``.
        As in librosa, higher values are allowed and leave empty filters
        (librosa warns).
    power : float > 0, default=2.0
        Exponent of the magnitude: 2 for power, 1 for amplitude.
    top_db : float >= 0 or None, default=None
        Floor each clip's spectrogram at ``top_db`` below that clip's maximum.
    channel : int >= 0 or "mean", default=0
        Channel kept from 3-D arrays and multichannel files, or ``"mean"`` to
        average the channels. Unused for 2-D arrays (already mono).
    duration : float > 0 or None, default=None
        Clip length in seconds. Files are cropped or zero-padded to
        ``round(duration * sr)`` samples; arrays must have that many samples.
        None: files must all yield the same length.
    flatten : bool, default=False
        Return ``(n_clips, n_mels * n_frames)``, mel-major (column
        ``mel * n_frames + t``), with ``get_feature_names_out`` names such as
        ``"mel3_t17"``; needed for ``set_output(transform="pandas")`` and for
        tabular estimators downstream.
    n_jobs : int or None, default=None
        Threads used by ``transform``: None means 1 unless in a
        ``joblib.parallel_config`` context, -1 means all cores (see Notes).
    feature_store : "auto", str, os.PathLike or None, default="auto"
        Where the features of *file* input go. ``"auto"``: into a temporary
        :class:`~skaudio_ad.FeatureStore` file (deleted with the object) when
        they would exceed 64 MiB, else into an in-memory array. A folder: always
        into a store file kept in that folder. None: always into memory. The
        store is written a chunk of files at a time and read back by the
        detector a group of clips at a time, so a Pipeline fitted on a long list
        of files never holds all features in memory (:ref:`performance`).
        Arrays in, and ``flatten=True``, always give in-memory arrays.

    Attributes
    ----------
    n_features_in_ : int
        Samples per clip seen in ``fit``: ``X.shape[-1]`` for arrays; for file
        paths, the samples each file yields at ``sr`` after ``duration``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of a pandas DataFrame passed to ``fit``, if it had string names.
    n_frames_ : int
        Frames per clip for clips of ``n_features_in_`` samples:
        ``1 + (n_features_in_ + 2 * (n_fft // 2) - n_fft) // hop_length`` if
        ``center``, else ``1 + (n_features_in_ - n_fft) // hop_length``.

    See Also
    --------
    librosa.feature.melspectrogram : The per-clip reference.
    skaudio_ad.io.load_audio : Read files into a ``(n_files, n_samples)`` array.

    Notes
    -----
    ``transform`` returns float32 of shape ``(n_clips, n_mels, n_frames)``, or
    ``(n_clips, n_mels * n_frames)`` with ``flatten=True``, or for file input a
    :class:`~skaudio_ad.FeatureStore` of that shape (``feature_store``). File input is read a
    chunk of files at a time, so memory holds the output and only a few chunks
    of raw waveforms. Without ``duration``, ``fit`` and ``transform`` read every
    file's header (not its audio) to check that the files share one length.
    NaN or inf samples raise a ValueError naming the clip: for arrays in ``fit`` and
    ``transform``. Files are read by :func:`skaudio_ad.io.iter_clips`, which owns every
    check on a file (regular file, size bound, length, finite samples) and raises an
    :class:`~skaudio_ad.exceptions.AudioReadError` naming it.

    Integer arrays are PCM and are scaled as soundfile scales integer files
    (:func:`skaudio_ad.io.as_waveforms`): int16 / 32768, int32 / 2**31, uint8 as
    (x - 128) / 128; an ``int16`` array from ``soundfile.read(path, dtype="int16")`` gives
    the same spectrogram as the float read of that file.

    Speed (``benchmarks/bench_features.py``: 1,000 ten-second 16 kHz clips,
    defaults, 2-core box under load from other jobs): 683 clips/s with
    ``n_jobs=1`` and 950 clips/s with ``n_jobs=-1``, against 339 clips/s for a
    per-clip librosa loop with the same parameters (2.0x and 2.8x); largest
    difference from librosa 8e-6 dB. ``n_jobs`` keeps scikit-learn's meaning
    (None is one thread) so that the transformer nests in parallel
    cross-validation without oversubscribing; pass ``n_jobs=-1`` when it runs alone.

    Examples
    --------
    >>> import numpy as np
    >>> from skaudio_ad import MelSpectrogramTransformer
    >>> rng = np.random.default_rng(0)
    >>> X = 0.1 * rng.standard_normal((4, 16000)).astype(np.float32)  # 4 clips, 1 s
    >>> mel = MelSpectrogramTransformer(sr=16000, n_mels=32)
    >>> mel.fit_transform(X).shape
    (4, 32, 32)
    >>> flat = MelSpectrogramTransformer(n_mels=32, flatten=True).fit(X)
    >>> flat.transform(X).shape
    (4, 1024)
    >>> flat.get_feature_names_out()[[0, 1, 32]]
    array(['mel0_t0', 'mel0_t1', 'mel1_t0'], dtype=object)
    """

    _parameter_constraints: dict = {
        "sr": [Interval(Real, 0, None, closed="neither")],
        "n_fft": [Interval(Integral, 1, None, closed="left")],
        "hop_length": [Interval(Integral, 1, None, closed="left")],
        "win_length": [Interval(Integral, 1, None, closed="left"), None],
        "window": [str, tuple, Real, callable, "array-like"],
        "center": ["boolean"],
        "n_mels": [Interval(Integral, 1, None, closed="left")],
        "fmin": [Interval(Real, 0, None, closed="left")],
        "fmax": [Interval(Real, 0, None, closed="neither"), None],
        "power": [Interval(Real, 0, None, closed="neither")],
        "top_db": [Interval(Real, 0, None, closed="left"), None],
        "channel": [Interval(Integral, 0, None, closed="left"), StrOptions({"mean"})],
        "duration": [Interval(Real, 0, None, closed="neither"), None],
        "flatten": ["boolean"],
        "n_jobs": [Integral, None],
        "feature_store": [str, os.PathLike, None],
    }

    def __init__(
        self,
        *,
        sr=16000,
        n_fft=1024,
        hop_length=512,
        win_length=None,
        window="hann",
        center=True,
        n_mels=64,
        fmin=0.0,
        fmax=None,
        power=2.0,
        top_db=None,
        channel=0,
        duration=None,
        flatten=False,
        n_jobs=None,
        feature_store="auto",
    ):
        self.sr = sr
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.win_length = win_length
        self.window = window
        self.center = center
        self.n_mels = n_mels
        self.fmin = fmin
        self.fmax = fmax
        self.power = power
        self.top_db = top_db
        self.channel = channel
        self.duration = duration
        self.flatten = flatten
        self.n_jobs = n_jobs
        self.feature_store = feature_store

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Record the clip length; no other state.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples) or (n_clips, n_channels, n_samples), \
                or sequence of (str or os.PathLike) of length n_clips
            Waveforms at ``sr``, one row per clip, or audio files.
        y : None
            Ignored.

        Returns
        -------
        self : MelSpectrogramTransformer
            This transformer, with ``n_features_in_`` and ``n_frames_`` set.
        """
        self._check_params()
        clips = self._validate_input(X, reset=True)
        self.n_frames_ = _n_frames(clips.n_samples, self.n_fft, self.hop_length, self.center)
        return self

    def transform(self, X):
        """Compute the log-mel spectrogram of every clip.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples) or (n_clips, n_channels, n_samples), \
                or sequence of (str or os.PathLike) of length n_clips
            Waveforms at ``sr``, one row per clip, or audio files.

        Returns
        -------
        X_mel : np.ndarray [shape=(n_clips, n_mels, n_frames), dtype=float32] or FeatureStore
            Log-mel power in dB; ``(n_clips, n_mels * n_frames)`` if ``flatten``; a
            :class:`~skaudio_ad.FeatureStore` for file input as ``feature_store`` says.
        """
        self._validate_params()
        self._check_params()
        clips = self._validate_input(X, reset=False)
        n_frames = _n_frames(clips.n_samples, self.n_fft, self.hop_length, self.center)
        shape = (clips.n_clips, self.n_mels, n_frames)
        if clips.kind == "paths" and not self.flatten:
            write, folder = _store.store_folder(self.feature_store, 4 * int(np.prod(shape)))
            if write:
                return _store.transform_to_store(self, clips.data, shape, folder)
        out = np.empty((clips.n_clips, self.n_mels, n_frames), dtype=np.float32)
        self._compute(clips, out)
        _check_output_finite(out, clips)
        return out.reshape(clips.n_clips, -1) if self.flatten else out

    def _flattened(self):
        if not self.flatten:
            raise AttributeError(
                "get_feature_names_out needs flatten=True: the 3-D output "
                "(n_clips, n_mels, n_frames) has no columns to name."
            )
        return True

    @available_if(_flattened)
    def get_feature_names_out(self, input_features=None):
        """Names of the flattened output columns: ``"mel{m}_t{t}"``, mel-major.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against ``n_features_in_`` / ``feature_names_in_``;
            the output names do not depend on it.

        Returns
        -------
        feature_names_out : ndarray of str objects, shape (n_mels * n_frames_,)
            Column ``m * n_frames_ + t`` is ``f"mel{m}_t{t}"``.
        """
        check_is_fitted(self, "n_frames_")
        _check_feature_names_in(self, input_features, generate_names=False)
        return np.asarray(
            [f"mel{m}_t{t}" for m in range(self.n_mels) for t in range(self.n_frames_)],
            dtype=object,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Stateless: transform works unfitted; fit only records the clip length.
        tags.requires_fit = False
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    # -- validation -------------------------------------------------------------

    def _validate_state(self):
        """Raise ValueError when fitted attributes (e.g. of a loaded model) do not fit."""
        if not hasattr(self, "n_features_in_"):
            return
        n = self.n_features_in_
        if not isinstance(n, Integral) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n_features_in_ must be a positive int; got {n!r}.")
        self._check_params()
        expected = _n_frames(n, self.n_fft, self.hop_length, self.center)
        if getattr(self, "n_frames_", None) != expected:
            raise ValueError(f"n_frames_ is {getattr(self, 'n_frames_', None)!r}, but clips of "
                             f"{n} samples give {expected} frames.")

    def _check_params(self):
        """Checks across parameters that _parameter_constraints cannot express."""
        if self.win_length is not None and self.win_length > self.n_fft:
            raise ValueError(
                f"win_length={self.win_length} must be <= n_fft={self.n_fft} "
                "(the window is zero-padded to n_fft, never cropped)."
            )
        fmax = self.sr / 2 if self.fmax is None else self.fmax
        if not self.fmin < fmax:
            raise ValueError(
                f"fmin={self.fmin} must be below fmax={fmax} Hz"
                + (f" (fmax=None means sr / 2 = {fmax})." if self.fmax is None else ".")
            )
        if self.n_jobs == 0:
            raise ValueError("n_jobs=0 means no worker; use None, a positive int or -1.")
        try:
            _fft_window(self.window, self.win_length or self.n_fft, self.n_fft)
        except Exception as exc:  # librosa / scipy raise several types for bad specs
            raise ValueError(
                f"window={self.window!r} is not a usable window of length "
                f"{self.win_length or self.n_fft}: {exc}"
            ) from exc

    def _validate_input(self, X, *, reset):
        paths = _path_list(X)
        if paths is not None:
            clips = self._validate_paths(paths, reset=reset)
        else:
            clips = self._validate_arrays(X, reset=reset)
        n = clips.n_samples
        if self.duration is not None and clips.kind != "paths":
            expected = round(self.duration * self.sr)
            if n != expected:
                raise ValueError(
                    f"duration={self.duration} s means {expected} samples per clip at "
                    f"sr={self.sr}, but X has {n} (n_features = {n}). duration crops/pads "
                    "files only: crop or pad arrays yourself, or use duration=None."
                )
        if n < self.n_fft:
            source = (
                f"the files yield {n} samples per clip at sr={self.sr}"
                if clips.kind == "paths"
                else f"X has {n} samples per clip (n_features = {n})"
            )
            if not self.center:
                # librosa raises for uncentred analysis of a signal shorter than n_fft.
                raise ValueError(
                    f"Clips are too short: {source}, but n_fft={self.n_fft} with center=False "
                    f"needs at least {self.n_fft}. Use longer clips, a smaller n_fft, "
                    "center=True (which zero-pads), or duration= to zero-pad files."
                )
            # As librosa.stft: centring zero-pads the clip, which then gives one frame or more.
            warnings.warn(
                f"n_fft={self.n_fft} is too large for input signal of length={n} ({source}); "
                "the clips are zero-padded, as librosa does.",
                UserWarning,
                stacklevel=3,
            )
        return clips

    def _check_n_samples(self, n_samples, *, reset, what):
        if reset:
            self.n_features_in_ = n_samples
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif hasattr(self, "n_features_in_") and n_samples != self.n_features_in_:
            # Worded like sklearn's own check, which tooling matches on.
            raise ValueError(
                f"X has {n_samples} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input: {what} {n_samples} samples per "
                f"clip, fit saw {self.n_features_in_}. Refit, or pass clips of that length."
            )

    def _validate_paths(self, paths, *, reset):
        if self.duration is not None:
            n_samples = round(self.duration * self.sr)
        else:
            spec = _io._Spec(sr=self.sr, channel=self.channel, duration=None, offset=0.0,
                             dtype=np.float32)
            n_samples, _ = _io._common_length(paths, spec, _io._error_policy("raise"))
        self._check_n_samples(n_samples, reset=reset, what="the files yield")
        return _Clips("paths", paths, len(paths), n_samples)

    def _validate_arrays(self, X, *, reset):
        if not scipy.sparse.issparse(X) and not hasattr(X, "ndim"):
            X = np.asarray(X)  # lists and other array-likes; check_array converts again for free
        ndim = 2 if scipy.sparse.issparse(X) else X.ndim
        if ndim == 2:
            X = validate_data(self, X, reset=reset, dtype="numeric", ensure_all_finite=False)
            X = _as_float(X)
            _check_finite(X)
            return _Clips("2d", X, X.shape[0], X.shape[1])
        if ndim == 3:
            X = check_array(
                X, allow_nd=True, dtype="numeric", ensure_all_finite=False, input_name="X"
            )
            X = _as_float(X)
            n_clips, n_channels, n_samples = X.shape
            channel = self.channel
            if n_channels == 0:
                raise ValueError("X has 0 channels (X.shape[1] == 0): no audio to analyse.")
            if channel != "mean" and channel >= n_channels:
                raise ValueError(
                    f"channel={channel} is out of range for X with {n_channels} channel(s) "
                    f"(X.shape[1]); use 0..{n_channels - 1} or channel='mean'."
                )
            self._check_n_samples(n_samples, reset=reset, what="X has")
            _check_finite(X, channel)
            return _Clips("3d", X, n_clips, n_samples, channel=channel)
        if ndim == 1 and X.shape[0] == 0:
            raise ValueError("X is empty: it holds no clips.")
        raise ValueError(
            f"X must be a 2-D array (n_clips, n_samples) of mono clips, a 3-D array "
            f"(n_clips, n_channels, n_samples), or a 1-D sequence of file paths; got a "
            f"{ndim}-D input. Reshape your data: for one clip y, pass y.reshape(1, -1)."
        )

    # -- computation ------------------------------------------------------------

    def _compute(self, clips, out):
        fmax = self.sr / 2 if self.fmax is None else self.fmax
        mel_basis = _mel_basis(self.sr, self.n_fft, self.n_mels, float(self.fmin), float(fmax))
        window = _fft_window(self.window, self.win_length or self.n_fft, self.n_fft)
        core = dict(
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            center=self.center,
            window=window,
            mel_basis=mel_basis,
            power=float(self.power),
            top_db=self.top_db,
        )

        n_threads = max(1, min(effective_n_jobs(self.n_jobs), clips.n_clips))
        per_task = min(
            -(-clips.n_clips // n_threads),
            max(1, _TASK_BYTES // (4 * clips.n_samples)),
        )
        if n_threads > 1:
            # Several tasks per thread balance the load when clips cost unequal time.
            per_task = min(per_task, max(1, -(-clips.n_clips // (4 * n_threads))))
        starts = range(0, clips.n_clips, per_task)

        def task(start):
            stop = min(start + per_task, clips.n_clips)
            # Overflow (absurdly loud input) is reported after the fact by transform.
            with np.errstate(over="ignore", invalid="ignore"):
                _log_mel(self._waveforms(clips, start, stop), out[start:stop], **core)

        if n_threads == 1:
            for start in starts:
                task(start)
        else:
            self._run_threads(task, starts, n_threads)
        return out

    @staticmethod
    def _run_threads(task, starts, n_threads):
        # Threads, not processes: numpy, scipy.fft and scipy.sparse release the GIL (a
        # pure-Python thread kept running through each, measured); soundfile's cffi too.
        with ThreadPoolExecutor(n_threads) as pool:
            futures = [pool.submit(task, start) for start in starts]
            try:
                # In order, so the error reported is the lowest-index one.
                for future in futures:
                    future.result()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def _waveforms(self, clips, start, stop):
        if clips.kind == "2d":
            return clips.data[start:stop]
        if clips.kind == "3d":
            block = clips.data[start:stop]
            return block.mean(axis=1) if clips.channel == "mean" else block[:, clips.channel]
        paths = clips.data[start:stop]
        # Lengths were checked from the headers in _validate_paths; io checks the rest.
        (chunk,) = _io.iter_clips(
            paths, sr=self.sr, channel=self.channel, duration=self.duration,
            n_samples=None if self.duration is not None else clips.n_samples,
            chunk_size=len(paths), on_error="raise",
        )
        return chunk.X
