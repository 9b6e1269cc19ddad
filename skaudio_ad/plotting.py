"""Plots for anomaly detection on machine sounds: ROC, score distributions, spectrograms.

In scikit-learn's display style, :class:`AnomalyRocDisplay` and
:class:`ScoreDistributionDisplay` are built ``from_estimator`` (a fitted detector: its own
``decision_function`` / ``predict`` / ``score_samples``, never a re-written threshold rule) or
``from_predictions``, and draw with ``.plot(ax=...)``. The ``plot_*`` functions are shortcuts
returning the figure. Every function builds a new :class:`matplotlib.figure.Figure` through
:mod:`matplotlib.pyplot` (so that Jupyter and sphinx-gallery show it) and returns it; none
calls ``show``. Save one with ``fig.savefig(path)`` and release it with
``matplotlib.pyplot.close(fig)``. Without a display (a server, CI), matplotlib selects its
non-interactive Agg backend by itself; the ``skaudio-ad`` command line always uses Agg.

Sign conventions, as in :mod:`skaudio_ad.metrics`: the **anomaly score** of a clip is
``-score_samples`` (its mean frame reconstruction error; higher = more anomalous), and the
decision threshold on that scale is ``-offset_``, drawn for reference; verdicts come from the
detector's ``predict``. Labels are 1 = anomaly, 0 = normal.
"""

import numbers
import textwrap

import numpy as np
from sklearn.metrics import roc_curve

from .metrics import _as_anomaly_mask, anomaly_partial_auc, anomaly_roc_auc

__all__ = [
    "AnomalyRocDisplay",
    "ScoreDistributionDisplay",
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


class AnomalyRocDisplay:
    """ROC curve of an anomaly detector, with AUC, pAUC region and its operating point.

    In scikit-learn's display style: build it with :meth:`from_estimator` (a fitted detector
    and labelled data) or :meth:`from_predictions` (labels and anomaly scores), then
    :meth:`plot` draws it (``from_*`` already did, into ``ax`` or a new figure).

    Parameters
    ----------
    fpr, tpr : ndarray
        The curve, from :func:`sklearn.metrics.roc_curve` with anomalies positive.
    roc_auc : float
        :func:`skaudio_ad.metrics.anomaly_roc_auc`.
    partial_auc : float
        :func:`skaudio_ad.metrics.anomaly_partial_auc` up to ``max_fpr``.
    max_fpr : float
        Right edge of the shaded pAUC region.
    operating_point : (float, float) or None, default=None
        (FPR, TPR) of the detector's own verdicts (``predict``), when known.
    name : str, default="detector"
        Legend name of the curve.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The curve.
    ax_ : matplotlib Axes
        The axes drawn into.
    figure_ : matplotlib Figure
        The figure holding ``ax_``.

    See Also
    --------
    sklearn.metrics.RocCurveDisplay : The same for classifiers (label 1 = positive).

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.ensemble import IsolationForest
    >>> from skaudio_ad.plotting import AnomalyRocDisplay
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(50, 2)), rng.normal(3.0, 1.0, size=(20, 2))])
    >>> y = np.r_[np.zeros(50, dtype=int), np.ones(20, dtype=int)]  # 1 = anomaly
    >>> detector = IsolationForest(random_state=0).fit(X[:50])
    >>> display = AnomalyRocDisplay.from_estimator(detector, X, y)
    >>> round(display.roc_auc, 3), display.ax_.get_xlabel()
    (0.975, 'False positive rate (normal clips flagged)')
    >>> plt.close(display.figure_)
    """

    def __init__(self, *, fpr, tpr, roc_auc, partial_auc, max_fpr, operating_point=None,
                 name="detector"):
        self.fpr, self.tpr = fpr, tpr
        self.roc_auc, self.partial_auc, self.max_fpr = roc_auc, partial_auc, max_fpr
        self.operating_point = operating_point
        self.name = name

    @classmethod
    def from_estimator(cls, estimator, X, y, *, max_fpr=0.1, name=None, title="ROC curve",
                       ax=None):
        """Score ``X`` with a fitted outlier detector and plot the ROC curve against ``y``.

        The ranking uses ``-decision_function(X)`` and the operating point the detector's
        own ``predict(X)`` (-1 = anomaly): the threshold rule stays in the estimator.

        Parameters
        ----------
        estimator : fitted outlier detector or Pipeline ending in one
            With ``decision_function`` and ``predict``.
        X : array-like or sequence of paths
            Input of the estimator.
        y : array-like of shape (n_samples,)
            Labels, 1 = anomaly, 0 = normal (or booleans). Both classes present.
        max_fpr : float in (0, 1], default=0.1
            Upper false-positive rate of the shaded partial AUC.
        name : str or None, default=None
            Legend name; None uses the estimator's class name.
        title : str or None, default="ROC curve"
            Axes title.
        ax : matplotlib Axes or None, default=None
            Axes to draw into; None creates a new figure.

        Returns
        -------
        display : AnomalyRocDisplay
        """
        anomaly_score = -np.asarray(estimator.decision_function(X), dtype=np.float64)
        predicted = np.asarray(estimator.predict(X)) == -1
        return cls.from_predictions(y, anomaly_score, y_pred=predicted, max_fpr=max_fpr,
                                    name=name or type(estimator).__name__, title=title, ax=ax)

    @classmethod
    def from_predictions(cls, y_true, anomaly_score, *, y_pred=None, max_fpr=0.1,
                         name="detector", title="ROC curve", ax=None):
        """Plot the ROC curve of anomaly scores against labels.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            Labels, 1 = anomaly, 0 = normal (or booleans). Both classes present.
        anomaly_score : array-like of shape (n_samples,)
            Higher = more anomalous, e.g. ``-detector.score_samples(X)``.
        y_pred : array-like of shape (n_samples,) or None, default=None
            Predicted labels in the same convention (1 = anomaly), e.g.
            ``detector.predict(X) == -1``; marks the operating point.
        max_fpr : float in (0, 1], default=0.1
            Upper false-positive rate of the shaded partial AUC.
        name : str, default="detector"
            Legend name of the curve.
        title : str or None, default="ROC curve"
            Axes title.
        ax : matplotlib Axes or None, default=None
            Axes to draw into; None creates a new figure.

        Returns
        -------
        display : AnomalyRocDisplay
        """
        anomalous = _as_anomaly_mask(y_true, name="y_true", require_both_classes=True,
                                     metric="AnomalyRocDisplay")
        score = np.asarray(anomaly_score, dtype=np.float64)
        fpr, tpr, _ = roc_curve(anomalous, score)
        point = None
        if y_pred is not None:
            flagged = _as_anomaly_mask(y_pred, name="y_pred")
            point = (float(np.mean(flagged[~anomalous])), float(np.mean(flagged[anomalous])))
        display = cls(fpr=fpr, tpr=tpr, roc_auc=anomaly_roc_auc(anomalous, score),
                      partial_auc=anomaly_partial_auc(anomalous, score, max_fpr=max_fpr),
                      max_fpr=max_fpr, operating_point=point, name=name)
        return display.plot(ax=ax, title=title)

    def plot(self, ax=None, *, name=None, title="ROC curve"):
        """Draw the curve into ``ax`` (a new figure when None); returns this display."""
        fig, ax = _new_axes(ax, (5.2, 5.0))
        name = self.name if name is None else name
        ax.axvspan(0, self.max_fpr, color="0.9", zorder=0,
                   label=f"pAUC region (FPR \u2264 {self.max_fpr:g})")
        ax.plot([0, 1], [0, 1], ls="--", color="0.5", lw=1, label="chance (AUC = 0.5)")
        (self.line_,) = ax.plot(
            self.fpr, self.tpr, lw=2, color="C0",
            label=f"{name}: AUC = {self.roc_auc:.3f}, pAUC = {self.partial_auc:.3f}")
        if self.operating_point is not None:
            ax.plot(*self.operating_point, "o", color="C3", ms=8,
                    label=f"predict: FPR {self.operating_point[0]:.2f}, "
                    f"TPR {self.operating_point[1]:.2f}")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_aspect("equal")
        ax.set_xlabel("False positive rate (normal clips flagged)")
        ax.set_ylabel("True positive rate (anomalies detected)")
        if title:
            ax.set_title(title)
        ax.legend(loc="lower right", fontsize="small")
        ax.grid(alpha=0.3)
        self.ax_, self.figure_ = ax, fig
        return self


def plot_roc(y_true, anomaly_score, *, y_pred=None, max_fpr=0.1, label="detector",
             title="ROC curve", ax=None):
    """ROC curve of an anomaly score, with the AUC, the pAUC region and the operating point.

    A shortcut for :meth:`AnomalyRocDisplay.from_predictions` that returns the figure.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels, 1 (or ``True``) = anomaly, 0 = normal. Both classes must be present.
    anomaly_score : array-like of shape (n_samples,)
        Higher = more anomalous, e.g. ``-detector.score_samples(X)``.
    y_pred : array-like of shape (n_samples,) or None, default=None
        The detector's verdicts, 1 (or ``True``) = anomaly, e.g.
        ``detector.predict(X) == -1``; when given, the operating point is marked.
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
    AnomalyRocDisplay : The display object, also from a fitted estimator.
    skaudio_ad.metrics.anomaly_roc_auc : The area under this curve.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from skaudio_ad.plotting import plot_roc
    >>> rng = np.random.default_rng(0)
    >>> y = np.r_[np.zeros(50, dtype=int), np.ones(20, dtype=int)]
    >>> score = rng.normal(size=70) + 2.0 * y
    >>> fig = plot_roc(y, score, y_pred=score > 1.0)
    >>> fig.axes[0].get_xlabel()
    'False positive rate (normal clips flagged)'
    >>> plt.close(fig)
    """
    return AnomalyRocDisplay.from_predictions(y_true, anomaly_score, y_pred=y_pred,
                                              max_fpr=max_fpr, name=label, title=title,
                                              ax=ax).figure_


class ScoreDistributionDisplay:
    """Histograms of anomaly scores per group of clips, with the detector's threshold.

    In scikit-learn's display style: :meth:`from_estimator` scores labelled clips with a
    fitted detector, :meth:`from_predictions` takes scores per group; :meth:`plot` draws.

    Parameters
    ----------
    scores_by_group : dict of str to ndarray
        Anomaly scores (``-score_samples``, higher = more anomalous) per non-empty group.
    threshold : float or None, default=None
        ``-offset_`` of the detector, drawn as a line: clips to its right are anomalies.
    bins : int >= 1 or None, default=None
        Number of bins shared by every group; None: twice the square root of the number of
        scores, between 10 and 50.
    log_scale : bool, default=False
        Logarithmic score axis and bins (scores must then be positive).

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes drawn into.
    figure_ : matplotlib Figure
        The figure holding ``ax_``.

    Notes
    -----
    Each histogram is normalised to unit area, so groups of different sizes (a few
    validation clips, many training clips) compare by shape; the legend gives the counts.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.ensemble import IsolationForest
    >>> from skaudio_ad.plotting import ScoreDistributionDisplay
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(50, 2)), rng.normal(3.0, 1.0, size=(20, 2))])
    >>> y = np.r_[np.zeros(50, dtype=int), np.ones(20, dtype=int)]  # 1 = anomaly
    >>> detector = IsolationForest(random_state=0).fit(X[:50])
    >>> display = ScoreDistributionDisplay.from_estimator(detector, X, y)
    >>> [t.get_text() for t in display.ax_.get_legend().get_texts()][:2]
    ['normal (n=50)', 'anomalous (n=20)']
    >>> plt.close(display.figure_)
    """

    def __init__(self, scores_by_group, threshold=None, *, bins=None, log_scale=False):
        self.scores_by_group = scores_by_group
        self.threshold = threshold
        self.bins = bins
        self.log_scale = log_scale

    @classmethod
    def from_estimator(cls, estimator, X, y=None, *, bins=None, log_scale=False,
                       title="Anomaly score distributions", ax=None):
        """Score ``X`` with a fitted detector; one group per label of ``y`` (1 = anomaly).

        Parameters
        ----------
        estimator : fitted outlier detector or Pipeline ending in one
            With ``score_samples``; its ``offset_`` (if any) gives the threshold line.
        X : array-like or sequence of paths
            Input of the estimator.
        y : array-like of shape (n_samples,) or None, default=None
            Labels, 1 = anomaly, 0 = normal; None draws one group, "clips".
        bins, log_scale
            As in the class.
        title : str or None, default="Anomaly score distributions"
            Axes title.
        ax : matplotlib Axes or None, default=None
            Axes to draw into; None creates a new figure.

        Returns
        -------
        display : ScoreDistributionDisplay
        """
        score = -np.asarray(estimator.score_samples(X), dtype=np.float64)
        if y is None:
            groups = {"clips": score}
        else:
            anomalous = _as_anomaly_mask(y, name="y")
            groups = {"normal": score[~anomalous], "anomalous": score[anomalous]}
        final = getattr(estimator, "_final_estimator", estimator)
        threshold = -final.offset_ if hasattr(final, "offset_") else None
        return cls.from_predictions(groups, threshold, bins=bins, log_scale=log_scale,
                                    title=title, ax=ax)

    @classmethod
    def from_predictions(cls, scores_by_group, threshold=None, *, bins=None, log_scale=False,
                         title="Anomaly score distributions", ax=None):
        """Plot anomaly scores given per group.

        Parameters
        ----------
        scores_by_group : dict of str to array-like of shape (n_clips,)
            Anomaly scores (``-score_samples``, higher = more anomalous) per group, e.g.
            ``{"train": ..., "validation": ..., "test normal": ..., "test anomalous": ...}``.
            Drawn in the dict's order; empty groups are left out.
        threshold : float or None, default=None
            ``-offset_`` of a fitted detector, drawn as a line.
        bins, log_scale
            As in the class.
        title : str or None, default="Anomaly score distributions"
            Axes title.
        ax : matplotlib Axes or None, default=None
            Axes to draw into; None creates a new figure.

        Returns
        -------
        display : ScoreDistributionDisplay
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
        if bins is not None and (not isinstance(bins, numbers.Integral) or bins < 1):
            raise ValueError(f"bins must be a positive int or None; got {bins!r}.")
        display = cls(groups, _check_threshold(threshold), bins=bins, log_scale=log_scale)
        return display.plot(ax=ax, title=title)

    def plot(self, ax=None, *, title="Anomaly score distributions"):
        """Draw the histograms into ``ax`` (a new figure when None); returns this display."""
        groups, threshold = self.scores_by_group, self.threshold
        bins = self.bins
        if bins is None:
            bins = int(np.clip(2 * np.sqrt(sum(g.size for g in groups.values())), 10, 50))
        pooled = np.concatenate([*groups.values(), [] if threshold is None else [threshold]])
        lo, hi = pooled.min(), pooled.max()
        if self.log_scale:
            if lo <= 0:
                raise ValueError(f"log_scale=True needs positive scores; the smallest is {lo}. "
                                 "Use log_scale=False.")
            edges = (np.geomspace(lo, hi, bins + 1) if hi > lo
                     else np.geomspace(lo / 2, lo * 2, 2))
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
        if self.log_scale:
            ax.set_xscale("log")
        ax.set_xlabel(_ANOMALY_SCORE_LABEL)
        ax.set_ylabel("density (area of each group = 1)")
        if title:
            ax.set_title(title)
        ax.legend(fontsize="small", loc="upper right")
        ax.grid(alpha=0.3)
        self.ax_, self.figure_ = ax, fig
        return self


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

    A shortcut for :meth:`ScoreDistributionDisplay.from_predictions` that returns the figure.

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

    See Also
    --------
    ScoreDistributionDisplay : The display object, also from a fitted estimator.

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
    return ScoreDistributionDisplay.from_predictions(
        scores_by_group, threshold, bins=bins, log_scale=log_scale, title=title, ax=ax
    ).figure_


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
