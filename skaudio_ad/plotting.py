"""Plots for anomaly detection on machine sounds: ROC, score distributions, spectrograms.

Every function builds a new :class:`matplotlib.figure.Figure` through :mod:`matplotlib.pyplot`
(so that Jupyter and sphinx-gallery show it) and returns it; none calls ``show``. Save one
with ``fig.savefig(path)`` and release it with ``matplotlib.pyplot.close(fig)``. Without a
display (a server, CI), matplotlib selects its non-interactive Agg backend by itself; the
``skaudio-ad`` command line always uses Agg.

Sign conventions, as in :mod:`skaudio_ad.metrics`: the **anomaly score** of a clip is
``-score_samples`` (its mean frame reconstruction error; higher = more anomalous), and the
decision threshold on that scale is ``-offset_``: a clip is an anomaly when its anomaly score
exceeds it (``decision_function < 0``).
"""

import numbers
import textwrap

import numpy as np
from sklearn.metrics import roc_curve

from .metrics import _as_anomaly_mask, anomaly_partial_auc, anomaly_roc_auc

__all__ = [
    "plot_frame_errors",
    "plot_roc",
    "plot_score_distributions",
    "plot_spectrograms",
]

_ANOMALY_SCORE_LABEL = "anomaly score = -score_samples (higher = more anomalous)"


def _pyplot():
    # Imported on first use: importing skaudio_ad must not pull in matplotlib.
    import matplotlib.pyplot as plt

    return plt


def _new_axes(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    fig, ax = _pyplot().subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _check_threshold(threshold):
    if threshold is None:
        return None
    if not isinstance(threshold, numbers.Real) or not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number or None; got {threshold!r}.")
    return float(threshold)


def _check_spectrogram(S, name):
    S = np.asarray(S, dtype=np.float64)
    if S.ndim == 3 and S.shape[0] == 1:
        S = S[0]
    if S.ndim != 2:
        raise ValueError(
            f"{name} must be one clip's log-mel spectrogram of shape (n_mels, n_frames); got "
            f"shape {S.shape}. Pass one row of the transformer's output, e.g. X_mel[i]."
        )
    if not np.isfinite(S).all():
        raise ValueError(f"{name} contains NaN or inf values.")
    return S


def _specshow(S, ax, *, sr, hop_length, fmin, fmax, vmin, vmax, cmap):
    import librosa.display

    img = librosa.display.specshow(
        S,
        x_axis="s",
        y_axis="mel",
        sr=sr,
        hop_length=hop_length,
        fmin=fmin,
        fmax=sr / 2 if fmax is None else fmax,
        vmin=vmin,
        vmax=vmax,
        cmap=cmap,
        ax=ax,
    )
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("Frequency (Hz, mel scale)")
    return img


def plot_roc(
    y_true,
    anomaly_score,
    *,
    threshold=None,
    max_fpr=0.1,
    label="detector",
    title="ROC curve",
    ax=None,
):
    """ROC curve of an anomaly score, with the AUC, the pAUC region and the operating point.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels, 1 (or ``True``) = anomaly, 0 = normal; scikit-learn's -1 = anomaly / +1 =
        normal is accepted too. Both classes must be present.
    anomaly_score : array-like of shape (n_samples,)
        Higher = more anomalous, e.g. ``-detector.score_samples(X)``.
    threshold : float or None, default=None
        Decision threshold on the anomaly score (``-offset_`` of a fitted detector). When
        given, the operating point "anomaly if score > threshold" is marked.
    max_fpr : float in (0, 1], default=0.1
        Upper false-positive rate of the partial AUC, shaded on the plot.
    label : str, default="detector"
        Name of the curve in the legend.
    title : str or None, default="ROC curve"
        Axes title.
    ax : matplotlib Axes or None, default=None
        Axes to draw into; None creates a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure holding the plot.

    See Also
    --------
    skaudio_ad.metrics.anomaly_roc_auc : The area under this curve.
    skaudio_ad.metrics.anomaly_partial_auc : The standardised area left of ``max_fpr``.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from skaudio_ad.plotting import plot_roc
    >>> rng = np.random.default_rng(0)
    >>> y = np.r_[np.zeros(50, dtype=int), np.ones(20, dtype=int)]
    >>> score = rng.normal(size=70) + 2.0 * y
    >>> fig = plot_roc(y, score, threshold=1.0)
    >>> fig.axes[0].get_xlabel()
    'False positive rate (normal clips flagged)'
    >>> plt.close(fig)
    """
    anomalous = _as_anomaly_mask(y_true, name="y_true", require_both_classes=True,
                                 metric="plot_roc")
    score = np.asarray(anomaly_score, dtype=np.float64)
    auc = anomaly_roc_auc(anomalous, score)
    pauc = anomaly_partial_auc(anomalous, score, max_fpr=max_fpr)
    threshold = _check_threshold(threshold)
    fpr, tpr, _ = roc_curve(anomalous, score)

    fig, ax = _new_axes(ax, (5.2, 5.0))
    ax.axvspan(0, max_fpr, color="0.9", zorder=0, label=f"pAUC region (FPR \u2264 {max_fpr:g})")
    ax.plot([0, 1], [0, 1], ls="--", color="0.5", lw=1, label="chance (AUC = 0.5)")
    ax.plot(fpr, tpr, lw=2, color="C0",
            label=f"{label}: AUC = {auc:.3f}, pAUC = {pauc:.3f}")
    if threshold is not None:
        point = (np.mean(score[~anomalous] > threshold), np.mean(score[anomalous] > threshold))
        ax.plot(*point, "o", color="C3", ms=8,
                label=f"threshold {threshold:.3g}: FPR {point[0]:.2f}, TPR {point[1]:.2f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("False positive rate (normal clips flagged)")
    ax.set_ylabel("True positive rate (anomalies detected)")
    if title:
        ax.set_title(title)
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def plot_score_distributions(
    scores_by_group,
    threshold=None,
    *,
    bins=None,
    log_scale=False,
    title="Anomaly score distributions",
    ax=None,
):
    """Histograms of anomaly scores per group of clips, with the decision threshold.

    Parameters
    ----------
    scores_by_group : dict of str to array-like of shape (n_clips,)
        Anomaly scores (``-score_samples``, higher = more anomalous) per group, e.g.
        ``{"train": ..., "validation": ..., "test normal": ..., "test anomalous": ...}``.
        Drawn in the dict's order; empty groups are left out.
    threshold : float or None, default=None
        Decision threshold on the anomaly score, ``-offset_`` of a fitted detector: clips to
        its right are predicted anomalous.
    bins : int >= 1 or None, default=None
        Number of bins, shared by every group. None: twice the square root of the number of
        scores, between 10 and 50.
    log_scale : bool, default=False
        Logarithmic score axis and bins, for errors spread over orders of magnitude (scores
        must then be positive).
    title : str or None, default="Anomaly score distributions"
        Axes title.
    ax : matplotlib Axes or None, default=None
        Axes to draw into; None creates a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure holding the plot.

    Notes
    -----
    Each histogram is normalised to unit area, so groups of different sizes (a few
    validation clips, many training clips) compare by shape; the legend gives the counts.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from skaudio_ad.plotting import plot_score_distributions
    >>> rng = np.random.default_rng(0)
    >>> groups = {"test normal": rng.gamma(4.0, 0.1, 60), "test anomalous": rng.gamma(8.0, 0.1, 60)}
    >>> fig = plot_score_distributions(groups, threshold=0.7)
    >>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()][:2]
    ['test normal (n=60)', 'test anomalous (n=60)']
    >>> plt.close(fig)
    """
    if not isinstance(scores_by_group, dict) or not scores_by_group:
        raise ValueError(
            "scores_by_group must be a non-empty dict mapping a group name to its anomaly "
            f"scores, e.g. {{'test normal': scores}}; got {type(scores_by_group).__name__}."
        )
    groups = {}
    for name, scores in scores_by_group.items():
        scores = np.asarray(scores, dtype=np.float64).ravel()
        if not np.isfinite(scores).all():
            raise ValueError(f"scores of group {name!r} contain NaN or inf.")
        if scores.size:
            groups[str(name)] = scores
    if not groups:
        raise ValueError("every group in scores_by_group is empty: nothing to plot.")
    if bins is None:
        bins = int(np.clip(2 * np.sqrt(sum(g.size for g in groups.values())), 10, 50))
    if not isinstance(bins, numbers.Integral) or bins < 1:
        raise ValueError(f"bins must be a positive int or None; got {bins!r}.")
    threshold = _check_threshold(threshold)

    pooled = np.concatenate([*groups.values(), [] if threshold is None else [threshold]])
    lo, hi = pooled.min(), pooled.max()
    if log_scale:
        if lo <= 0:
            raise ValueError(
                f"log_scale=True needs positive scores; the smallest is {lo}. Use log_scale=False."
            )
        edges = np.geomspace(lo, hi, bins + 1) if hi > lo else np.geomspace(lo / 2, lo * 2, 2)
    else:
        edges = np.linspace(lo, hi, bins + 1) if hi > lo else np.array([lo - 0.5, lo + 0.5])

    fig, ax = _new_axes(ax, (7.0, 4.2))
    for i, (name, scores) in enumerate(groups.items()):
        colour = f"C{i}"
        ax.hist(scores, bins=edges, density=True, histtype="stepfilled", alpha=0.25,
                color=colour)
        ax.hist(scores, bins=edges, density=True, histtype="step", lw=1.5, color=colour,
                label=f"{name} (n={scores.size})")
    if threshold is not None:
        ax.axvline(threshold, color="k", ls="--", lw=1.5,
                   label=f"threshold = {threshold:.3g} (-offset_)")
        ax.annotate("predicted anomaly \u2192", xy=(threshold, 1.0),
                    xycoords=("data", "axes fraction"), xytext=(4, -4),
                    textcoords="offset points", ha="left", va="top", fontsize="small")
    if log_scale:
        ax.set_xscale("log")
    ax.set_xlabel(_ANOMALY_SCORE_LABEL)
    ax.set_ylabel("density (area of each group = 1)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small", loc="upper right")
    ax.grid(alpha=0.3)
    return fig


def plot_spectrograms(
    normal_S,
    anomalous_S,
    sr,
    hop_length,
    *,
    fmin=0.0,
    fmax=None,
    titles=("Normal clip", "Anomalous clip"),
    cmap="magma",
):
    """A normal and an anomalous log-mel spectrogram side by side, on one dB colour scale.

    Parameters
    ----------
    normal_S, anomalous_S : array-like of shape (n_mels, n_frames)
        Log-mel spectrograms in dB, rows of :class:`~skaudio_ad.MelSpectrogramTransformer`'s
        output.
    sr : float > 0
        Sampling rate the spectrograms were computed at, in Hz.
    hop_length : int > 0
        Samples between frames, as in the transformer.
    fmin : float >= 0, default=0.0
        Lowest mel frequency of the transformer, in Hz.
    fmax : float or None, default=None
        Highest mel frequency of the transformer, in Hz; None means ``sr / 2``.
    titles : tuple of two str, default=("Normal clip", "Anomalous clip")
        Panel titles; long ones are wrapped.
    cmap : str, default="magma"
        Colour map.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure: two spectrogram axes (time in seconds, mel-spaced frequency in Hz) and a
        colour bar in dB.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from skaudio_ad.plotting import plot_spectrograms
    >>> rng = np.random.default_rng(0)
    >>> S = -40.0 + 10.0 * rng.standard_normal((2, 64, 32))
    >>> fig = plot_spectrograms(S[0], S[1], sr=16000, hop_length=512)
    >>> fig.axes[2].get_ylabel()
    'power (dB)'
    >>> plt.close(fig)
    """
    normal_S = _check_spectrogram(normal_S, "normal_S")
    anomalous_S = _check_spectrogram(anomalous_S, "anomalous_S")
    if len(titles) != 2:
        raise ValueError(f"titles must hold two strings; got {titles!r}.")
    vmin = min(normal_S.min(), anomalous_S.min())
    vmax = max(normal_S.max(), anomalous_S.max())
    fig, axes = _pyplot().subplots(1, 2, figsize=(11.0, 4.0), sharey=True,
                                   layout="constrained")
    for ax, S, title in zip(axes, (normal_S, anomalous_S), titles, strict=True):
        img = _specshow(S, ax, sr=sr, hop_length=hop_length, fmin=fmin, fmax=fmax,
                        vmin=vmin, vmax=vmax, cmap=cmap)
        ax.set_title("\n".join(textwrap.fill(line, 60) for line in title.splitlines()))
    axes[1].set_ylabel("")
    fig.colorbar(img, ax=axes, label="power (dB)", format="%+.0f")
    return fig


def plot_frame_errors(
    S,
    frame_errors,
    sr,
    hop_length,
    threshold=None,
    *,
    fmin=0.0,
    fmax=None,
    spans=None,
    spans_label="marked interval",
    title=None,
    cmap="magma",
):
    """One clip's spectrogram above its per-frame reconstruction error: when it is anomalous.

    Parameters
    ----------
    S : array-like of shape (n_mels, n_frames)
        The clip's log-mel spectrogram in dB.
    frame_errors : array-like of shape (n_frames,)
        Its per-frame error, a row of ``detector.frame_errors(X_mel)``
        (:meth:`skaudio_ad.ConvAutoencoderDetector.frame_errors`). Their mean is the clip's
        anomaly score.
    sr : float > 0
        Sampling rate the spectrogram was computed at, in Hz.
    hop_length : int > 0
        Samples between frames.
    threshold : float or None, default=None
        The detector's threshold on the clip's anomaly score (``-offset_``). It applies to
        the mean over frames, not to single frames, and is drawn for scale.
    fmin : float >= 0, default=0.0
        Lowest mel frequency of the transformer, in Hz.
    fmax : float or None, default=None
        Highest mel frequency of the transformer, in Hz; None means ``sr / 2``.
    spans : list of (float, float) or None, default=None
        Time intervals in seconds to shade on the error curve, e.g. where an anomaly is
        known to occur.
    spans_label : str, default="marked interval"
        Legend entry of the shaded intervals.
    title : str or None, default=None
        Figure title.
    cmap : str, default="magma"
        Colour map of the spectrogram.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure: spectrogram on top (with its dB colour bar), error curve below, sharing
        the time axis in seconds.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from skaudio_ad.plotting import plot_frame_errors
    >>> rng = np.random.default_rng(0)
    >>> S = -40.0 + 10.0 * rng.standard_normal((64, 100))
    >>> errors = rng.gamma(2.0, 0.2, 100)
    >>> fig = plot_frame_errors(S, errors, sr=16000, hop_length=512, threshold=0.6)
    >>> fig.axes[1].get_xlabel()
    'Time (s)'
    >>> plt.close(fig)
    """
    import librosa

    S = _check_spectrogram(S, "S")
    errors = np.asarray(frame_errors, dtype=np.float64)
    if errors.ndim == 2 and errors.shape[0] == 1:
        errors = errors[0]
    if errors.shape != (S.shape[1],):
        raise ValueError(
            f"frame_errors must hold one value per frame of S, shape ({S.shape[1]},); got "
            f"shape {errors.shape}. Pass detector.frame_errors(X_mel)[i] for S = X_mel[i]."
        )
    threshold = _check_threshold(threshold)
    times = librosa.frames_to_time(np.arange(S.shape[1]), sr=sr, hop_length=hop_length)

    fig = _pyplot().figure(figsize=(10.0, 6.0), layout="constrained")
    # A narrow second column holds the colour bar, so both rows keep the same time axis.
    grid = fig.add_gridspec(2, 2, height_ratios=(3, 2), width_ratios=(40, 1))
    ax_spec = fig.add_subplot(grid[0, 0])
    ax_err = fig.add_subplot(grid[1, 0], sharex=ax_spec)
    img = _specshow(S, ax_spec, sr=sr, hop_length=hop_length, fmin=fmin, fmax=fmax,
                    vmin=None, vmax=None, cmap=cmap)
    fig.colorbar(img, cax=fig.add_subplot(grid[0, 1]), label="power (dB)", format="%+.0f")
    ax_spec.set_xlabel("")
    ax_spec.tick_params(labelbottom=False)

    ax_err.plot(times, errors, color="C0", lw=1.2, label="frame error")
    ax_err.axhline(errors.mean(), color="C0", ls=":", lw=1.5,
                   label=f"clip anomaly score (mean) = {errors.mean():.3g}")
    if threshold is not None:
        ax_err.axhline(threshold, color="k", ls="--", lw=1.2,
                       label=f"threshold on the clip mean (-offset_) = {threshold:.3g}")
    for i, (start, stop) in enumerate(spans or ()):
        ax_err.axvspan(start, stop, color="C3", alpha=0.15,
                       label=spans_label if i == 0 else None)
    # The extent specshow gives the spectrogram: frame t spans [t, t + 1) hops.
    ax_err.set_xlim(0.0, S.shape[1] * hop_length / sr)
    # Headroom above the curve keeps the legend off it.
    top = max(errors.max(), threshold or 0.0)
    ax_err.set_ylim(0, 1.5 * top if top > 0 else 1.0)
    ax_err.set_xlabel("Time (s)")
    ax_err.set_ylabel("reconstruction error\n(mean squared, standardised)")
    ax_err.legend(fontsize="small", loc="upper right", ncols=2)
    ax_err.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig


def _save_report(out, *, y_true, anomaly_score, groups, threshold, spec, normal, anomalous,
                 dpi=120):
    """Write the command line's four report plots into folder ``out``; return their paths.

    ``spec`` holds ``sr``, ``hop_length``, ``fmin``, ``fmax``; ``normal`` and ``anomalous``
    are ``(S, frame_errors, title, spans, spans_label)`` of the clips to show.
    """
    import os

    plt = _pyplot()
    S_norm, _, title_norm, _, _ = normal
    S_anom, errors, title_anom, spans, spans_label = anomalous
    figures = {
        "roc.png": lambda: plot_roc(y_true, anomaly_score, threshold=threshold),
        "score_distributions.png": lambda: plot_score_distributions(groups, threshold),
        "spectrograms.png": lambda: plot_spectrograms(
            S_norm, S_anom, titles=(title_norm, title_anom), **spec
        ),
        "frame_errors.png": lambda: plot_frame_errors(
            S_anom, errors, threshold=threshold, spans=spans, spans_label=spans_label,
            title=f"Per-frame reconstruction error, {' '.join(title_anom.split())}", **spec
        ),
    }
    os.makedirs(out, exist_ok=True)
    written = []
    for name, make in figures.items():
        fig = make()
        try:
            fig.savefig(os.path.join(out, name), dpi=dpi)
        finally:
            plt.close(fig)
        written.append(os.path.join(out, name))
    return written


def _metrics_report(y_true, anomaly_score, threshold, title):
    """The command line's text block: metrics and confusion matrix at ``threshold``."""
    from sklearn.metrics import confusion_matrix

    from . import metrics

    y_pred = (np.asarray(anomaly_score) > threshold).astype(int)
    n_anomalous = int(np.sum(y_true))
    rows = [
        ("ROC AUC", f"{metrics.anomaly_roc_auc(y_true, anomaly_score):.3f}"),
        ("partial AUC (FPR <= 0.1)", f"{metrics.anomaly_partial_auc(y_true, anomaly_score):.3f}"),
        ("F1 (anomaly class)", f"{metrics.anomaly_f1(y_true, y_pred):.3f}"),
        ("balanced accuracy", f"{metrics.anomaly_balanced_accuracy(y_true, y_pred):.3f}"),
        ("decision threshold", f"anomaly score > {threshold:.4g}  (-offset_)"),
    ]
    (tn, fp), (fn, tp) = confusion_matrix(y_true, y_pred, labels=[0, 1])
    return "\n".join([
        "",
        f"{title}: {len(y_true) - n_anomalous} normal + {n_anomalous} anomalous clips",
        *(f"  {name:<26}{value}" for name, value in rows),
        "",
        "Confusion matrix (rows: true class, columns: predicted class)",
        f"  {'':<14}{'normal':>10}{'anomaly':>10}",
        f"  {'true normal':<14}{tn:>10}{fp:>10}",
        f"  {'true anomaly':<14}{fn:>10}{tp:>10}",
        "",
    ])
