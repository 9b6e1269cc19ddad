"""Where in a recording, and where in the spectrum, an anomaly is.

From a detector's per-frame, per-mel-bin reconstruction error (``error_map``): the most
anomalous time span, its peak frame error, and the frequency band whose error dominates the
span, in seconds and Hz, and a sentence such as "unusual energy at 2.6-2.9 kHz from 1.1 s to
4.3 s".
"""

from dataclasses import asdict, dataclass
from numbers import Real

import numpy as np

from ._melscale import mel_frequencies

__all__ = ["AnomalySpan", "locate_anomalies"]

#: Default smoothing of the frame errors, in seconds. benchmarks/locate.py (planted events
#: in synthetic fan clips, IoU of the span with the true interval): 0.5 s (half the default
#: patch) located best; none, 0.25 s, 1 s and 2 s less well (table in the user guide).
DEFAULT_SMOOTHING = 0.5
# The span: frames above baseline + _LEVEL * (peak - baseline), the baseline the lower
# quartile of the smoothed errors. Same benchmark: the quartile beat the median (IoU 0.85
# vs 0.79; the median is raised by events covering half the clip), 0.5 beat 0.35 (0.82).
_BASELINE_QUANTILE = 0.25
_LEVEL = 0.5


@dataclass(frozen=True)
class AnomalySpan:
    """The most anomalous span of one clip, in time and frequency.

    Attributes
    ----------
    start, end : float
        The span, in seconds from the start of the clip.
    peak_time : float
        Time (s) of the largest frame error inside the span.
    peak_error : float
        That frame's error (:meth:`ConvAutoencoderDetector.frame_errors`, unsmoothed).
    band_low, band_high : float
        The frequency band (Hz) whose error dominates the span.
    """

    start: float
    end: float
    peak_time: float
    peak_error: float
    band_low: float
    band_high: float

    def describe(self, lead="unusual energy at"):
        """The span in plain words: "unusual energy at 2.6-2.9 kHz from 1.1 s to 4.3 s".

        Parameters
        ----------
        lead : str, default="unusual energy at"
            The words before the band.
        """
        return (f"{lead} {_band_text(self.band_low, self.band_high)} "
                f"from {self.start:.1f} s to {self.end:.1f} s")

    def to_dict(self):
        """The fields and the sentence as a JSON-friendly dict."""
        return {**asdict(self), "summary": self.describe()}


def _band_text(low, high):
    if low >= 1000:
        return f"{low / 1000:.1f}-{high / 1000:.1f} kHz"
    if high >= 1000:
        return f"{low:.0f} Hz-{high / 1000:.1f} kHz"
    return f"{low:.0f}-{high:.0f} Hz"


def _moving_average(x, size):
    if size <= 1:
        return x
    # Edge-replicated so that a span at the clip's border is not pulled down by zeros.
    padded = np.pad(x, (size // 2, size - 1 - size // 2), mode="edge")
    csum = np.concatenate([[0.0], np.cumsum(padded)])
    return (csum[size:] - csum[:-size]) / size


def span_of(frame_errors, error_map, *, frame_seconds, smoothing_frames, band_edges,
            duration=None, edge_frames=0):
    """The :class:`AnomalySpan` of one clip from its frame errors and error map.

    The frame errors are smoothed with a moving average of ``smoothing_frames``; the span is
    the run of frames around the smoothed maximum that stays above half-way between the
    lower quartile of the clip's smoothed errors and that maximum (a full width at half
    maximum above the clip's own baseline, so no frame threshold has to be calibrated).
    The band is the run of mel bins around the bin whose mean error inside the span exceeds
    its mean outside the span the most, keeping the bins whose excess is at least half the
    largest.

    Parameters
    ----------
    frame_errors : np.ndarray [shape=(n_frames,)]
    error_map : np.ndarray [shape=(n_mels, n_frames)]
    frame_seconds : float > 0
        Time between frames (``hop_length / sr``).
    smoothing_frames : int >= 1
    band_edges : np.ndarray [shape=(n_mels + 2,)]
        Mel filter edge frequencies in Hz (``mel_frequencies(n_mels + 2, ...)``).
    duration : float or None
        Clip length in seconds, to clip the end of the span.
    edge_frames : int >= 0
        Frames at each end left out of the search: with ``center=True`` their analysis
        window is partly zero padding, and they reconstruct worse than any real sound.
    """
    frame_errors = np.asarray(frame_errors, dtype=np.float64)
    n_all = len(frame_errors)
    if n_all - 2 * edge_frames < 2:
        edge_frames = 0
    interior = slice(edge_frames, n_all - edge_frames)
    smooth = np.full(n_all, -np.inf)
    smooth[interior] = _moving_average(frame_errors[interior], smoothing_frames)
    n_frames = n_all
    peak = int(np.argmax(smooth))
    baseline = np.quantile(smooth[interior], _BASELINE_QUANTILE)
    level = baseline + _LEVEL * (smooth[peak] - baseline)  # edges: -inf, never above
    above = smooth >= level
    lo = peak
    while lo > 0 and above[lo - 1]:
        lo -= 1
    hi = peak
    while hi < n_frames - 1 and above[hi + 1]:
        hi += 1
    inside = slice(lo, hi + 1)
    i_peak = lo + int(np.argmax(frame_errors[inside]))

    outside = np.zeros(n_frames, dtype=bool)
    outside[interior] = True
    outside[inside] = False
    excess = error_map[:, inside].mean(axis=1)
    if outside.any():
        excess = excess - error_map[:, outside].mean(axis=1)
    top = int(np.argmax(excess))
    keep = excess >= 0.5 * excess[top]
    b_lo = top
    while b_lo > 0 and keep[b_lo - 1]:
        b_lo -= 1
    b_hi = top
    while b_hi < len(excess) - 1 and keep[b_hi + 1]:
        b_hi += 1
    # Filter i spans edges i..i+2 and peaks at i+1: a run of filters spans the half-way points.
    band_low = 0.5 * (band_edges[b_lo] + band_edges[b_lo + 1])
    band_high = 0.5 * (band_edges[b_hi + 1] + band_edges[b_hi + 2])

    end = (hi + 1) * frame_seconds
    if duration is not None:
        end = min(end, duration)
    return AnomalySpan(
        start=float(lo * frame_seconds), end=float(end), peak_time=float(i_peak * frame_seconds),
        peak_error=float(frame_errors[i_peak]), band_low=float(band_low),
        band_high=float(band_high),
    )


def locate_anomalies(model, X, *, smoothing=DEFAULT_SMOOTHING):
    """The most anomalous span of each clip, in seconds and in Hz.

    Parameters
    ----------
    model : Pipeline
        A fitted pipeline whose first step is a
        :class:`~skaudio_ad.MelSpectrogramTransformer` and whose last step has ``error_map``
        (a fitted :class:`~skaudio_ad.ConvAutoencoderDetector`), as ``skaudio-ad fit`` writes.
    X : array-like of shape (n_clips, n_samples), or file paths
        Waveforms (or what ``model[:-1].transform`` accepts).
    smoothing : float >= 0, default=0.5
        Length in seconds of the moving average applied to the frame errors before the span
        is found (0: none). 0.5 s located planted anomalies best (the user guide's
        localisation page has the measurement); the errors are already smooth over about
        one patch.

    Returns
    -------
    spans : list of AnomalySpan
        One per clip, in order.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from skaudio_ad import (ConvAutoencoderDetector, MelSpectrogramTransformer,
    ...                         locate_anomalies)
    >>> from skaudio_ad.datasets import make_machine_sounds
    >>> X, _ = make_machine_sounds(8, 0, duration=1.0, sr=8000, random_state=0)
    >>> model = make_pipeline(
    ...     MelSpectrogramTransformer(sr=8000, n_fft=256, hop_length=128, n_mels=16),
    ...     ConvAutoencoderDetector(patch_frames=8, hidden_channels=8, max_epochs=2,
    ...                             validation_fraction=0.0, random_state=0)).fit(X)
    >>> test = X[:1].copy()
    >>> test[0, 4000:6000] += 0.5 * np.sin(2 * np.pi * 2000 * np.arange(2000) / 8000)
    >>> span = locate_anomalies(model, test, smoothing=0.1)[0]
    >>> bool(span.start < 0.75 and span.end > 0.5)
    True
    """
    return _locate_clips(model, X, smoothing)[0]


def _locate_clips(model, X, smoothing):
    """``(spans, frame_errors, frame_seconds)`` of the clips ``X``."""
    _check_smoothing(smoothing)
    return _locate_features(model, model[:-1].transform(X), smoothing)


def _check_smoothing(smoothing):
    if not isinstance(smoothing, Real) or isinstance(smoothing, bool) or not smoothing >= 0:
        raise ValueError(f"smoothing must be a number of seconds >= 0; got {smoothing!r}.")


def _locate_features(model, S, smoothing):
    """``(spans, frame_errors, frame_seconds)`` of features ``S = model[:-1].transform(X)``."""
    _check_smoothing(smoothing)
    mel, detector = model[0], model[-1]
    maps = detector.error_map(S)
    frame_errors = detector.frame_errors(S)
    frame_seconds = mel.hop_length / mel.sr
    fmax = mel.sr / 2 if mel.fmax is None else mel.fmax
    edges = mel_frequencies(maps.shape[1] + 2, fmin=float(mel.fmin), fmax=float(fmax))
    size = max(1, int(round(smoothing / frame_seconds)))
    duration = getattr(mel, "n_features_in_", None)
    duration = duration / mel.sr if duration is not None else None
    # Frames whose analysis window reaches into the zero padding of center=True.
    edge = -(-(mel.n_fft // 2) // mel.hop_length) if mel.center else 0
    spans = [
        span_of(errors, error_map, frame_seconds=frame_seconds, smoothing_frames=size,
                band_edges=edges, duration=duration, edge_frames=edge)
        for errors, error_map in zip(frame_errors, maps, strict=True)
    ]
    return spans, frame_errors, frame_seconds
