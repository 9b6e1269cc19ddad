"""Anomaly-detection metrics and scorers for scikit-learn outlier detectors.

Conventions, stated once for the whole module:

* **Labels**: 1 (or ``True``) = anomaly, 0 (or ``False``) = normal, as in MIMII, DCASE and
  pyod -- for ``y_true`` and for ``y_pred`` alike, with no guessing per array. Any other
  label (such as -1) is an error that says what to pass: for scikit-learn's ``predict``
  output (+1 normal, -1 anomaly), ``y_pred == -1``.
* **Anomaly score**: higher = more anomalous. A scikit-learn outlier detector
  scores the other way round: ``score_samples`` is higher for more normal
  samples and ``decision_function = score_samples - offset_``. The anomaly
  score of a detector is therefore ``-score_samples(X)``.
* **Metric values**: higher = better, 1.0 for a perfect detector.

The metric functions (:func:`anomaly_roc_auc`, :func:`anomaly_partial_auc`,
:func:`anomaly_f1`, :func:`anomaly_balanced_accuracy`) take labels and anomaly
scores or predictions. The scorers (:data:`roc_auc_scorer`,
:data:`partial_auc_scorer`, :data:`f1_scorer`,
:data:`balanced_accuracy_scorer`, the dict :data:`ANOMALY_SCORERS` and
:func:`make_anomaly_scorer`) are scikit-learn scorers built by
:func:`sklearn.metrics.make_scorer`, meant for ``scoring=`` in
:func:`~sklearn.model_selection.cross_validate` or
:class:`~sklearn.model_selection.GridSearchCV`. The ranking scorers ask the detector for
``decision_function`` and the label scorers for ``predict``, so with
``scoring=ANOMALY_SCORERS`` scikit-learn's response cache calls each once per fold: two
forward passes for four metrics.

Notes
-----
Why not scikit-learn's own scorers: the built-in ``"roc_auc"`` scorer ranks by
``decision_function`` (higher = normal) and takes label 1 as the positive
class, so on 0/1 anomaly labels it reports ``1 - AUC``;
``make_scorer(..., response_method="score_samples")`` is refused; and
``"f1"`` compares ``predict``'s +1/-1 with 0/1 labels. The scorers here convert
``predict``'s output, which they know to be +1/-1, and negate ``decision_function``.

The AUC metrics additionally need both classes in ``y_true``.

Examples
--------
>>> import numpy as np
>>> from sklearn.ensemble import IsolationForest
>>> from sklearn.model_selection import cross_validate, StratifiedKFold
>>> from skaudio_ad.metrics import ANOMALY_SCORERS, anomaly_roc_auc
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(size=(60, 2)), rng.normal(8.0, 1.0, size=(6, 2))])
>>> y = np.r_[np.zeros(60, dtype=int), np.ones(6, dtype=int)]  # 1 = anomaly
>>> detector = IsolationForest(random_state=0).fit(X)
>>> float(anomaly_roc_auc(y, -detector.score_samples(X)))
1.0
>>> cv = cross_validate(IsolationForest(random_state=0), X, y,
...                     scoring=ANOMALY_SCORERS, cv=StratifiedKFold(3))
>>> float(cv["test_roc_auc"].mean())
1.0
"""

import inspect
import numbers

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score
from sklearn.utils import check_array

__all__ = [
    "ANOMALY_SCORERS",
    "anomaly_balanced_accuracy",
    "anomaly_f1",
    "anomaly_partial_auc",
    "anomaly_roc_auc",
    "balanced_accuracy_scorer",
    "f1_scorer",
    "make_anomaly_scorer",
    "partial_auc_scorer",
    "roc_auc_scorer",
]

_ACCEPTED_LABELS = (
    "Labels are 1 = anomaly, 0 = normal (MIMII/DCASE/pyod), or booleans with True = anomaly. "
    "For scikit-learn's predict output (+1 normal, -1 anomaly) pass y_pred == -1."
)


def _describe_labels(values):
    values = list(values)
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in values[:10])
    more = f", ... ({len(values)} distinct)" if len(values) > 10 else ""
    return "{" + shown + more + "}"


def _as_anomaly_mask(y, *, name, require_both_classes=False, metric=None):
    """Labels (1 = anomaly, 0 = normal, or booleans) as a boolean mask, True = anomaly."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D with one label per sample; got shape {y.shape}. "
            f"Pass {name}.ravel() for a column vector."
        )
    if y.size == 0:
        raise ValueError(f"{name} is empty; pass at least one label.")
    if y.dtype == bool:
        mask = y.copy()
    else:
        if y.dtype.kind == "O" and all(isinstance(v, numbers.Real) for v in y):
            y = y.astype(np.float64)
        if y.dtype.kind not in "biuf":
            raise ValueError(
                f"{name} has labels {_describe_labels(np.unique(y.astype(str)))} of dtype "
                f"{y.dtype}. {_ACCEPTED_LABELS}"
            )
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise ValueError(f"{name} contains NaN or infinity. {_ACCEPTED_LABELS}")
        labels = set(np.unique(y).tolist())
        if not labels <= {0, 1}:
            raise ValueError(
                f"{name} has labels {_describe_labels(sorted(labels))}. {_ACCEPTED_LABELS}"
            )
        mask = y == 1
    if require_both_classes and (mask.all() or not mask.any()):
        raise ValueError(
            f"{metric} needs both normal and anomalous samples in {name}; got {y.size} "
            f"samples, all labelled {_describe_labels(np.unique(y))}. Evaluate on a set "
            "that contains both, e.g. split with StratifiedKFold."
        )
    return mask


def _check_anomaly_score(anomaly_score, n_samples):
    anomaly_score = check_array(
        anomaly_score,
        ensure_2d=False,
        dtype=np.float64,
        input_name="anomaly_score",
    )
    if anomaly_score.ndim != 1:
        raise ValueError(
            f"anomaly_score must be 1-D with one score per sample; got shape {anomaly_score.shape}."
        )
    if anomaly_score.shape[0] != n_samples:
        raise ValueError(
            f"y_true has {n_samples} labels but anomaly_score has "
            f"{anomaly_score.shape[0]} scores; pass one score per label."
        )
    return anomaly_score


def _check_predictions(y_true, y_pred):
    true_mask = _as_anomaly_mask(y_true, name="y_true")
    pred_mask = _as_anomaly_mask(y_pred, name="y_pred")
    if true_mask.shape != pred_mask.shape:
        raise ValueError(
            f"y_true has {true_mask.shape[0]} labels but y_pred has {pred_mask.shape[0]}; "
            "pass one prediction per label."
        )
    return true_mask.astype(np.int64), pred_mask.astype(np.int64)


def anomaly_roc_auc(y_true, anomaly_score, *, sample_weight=None):
    """Area under the ROC curve of an anomaly score, anomalies as the positive class.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels, 1 (or ``True``) = anomaly, 0 = normal. Both classes must be present.
    anomaly_score : array-like of shape (n_samples,)
        Higher = more anomalous, e.g. ``-detector.score_samples(X)``.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.

    Returns
    -------
    auc : float in [0, 1]
        1.0 ranks every anomaly above every normal sample, 0.5 is chance and
        0.0 is a perfectly inverted detector.

    Raises
    ------
    ValueError
        If ``y_true`` has labels other than 0/1 (or booleans), holds only one
        class, or does not match ``anomaly_score`` in length.

    See Also
    --------
    anomaly_partial_auc : The DCASE pAUC, restricted to low false-positive rates.
    roc_auc_scorer : The same metric as a scorer on a fitted detector.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import IsolationForest
    >>> from skaudio_ad.metrics import anomaly_roc_auc
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(40, 2)), rng.normal(6.0, 1.0, size=(4, 2))])
    >>> y = np.r_[np.zeros(40, dtype=int), np.ones(4, dtype=int)]
    >>> detector = IsolationForest(random_state=0).fit(X)
    >>> float(anomaly_roc_auc(y, -detector.score_samples(X)))
    1.0
    >>> float(anomaly_roc_auc(y, detector.score_samples(X)))  # wrong sign
    0.0
    """
    mask = _as_anomaly_mask(
        y_true, name="y_true", require_both_classes=True, metric="anomaly_roc_auc"
    )
    anomaly_score = _check_anomaly_score(anomaly_score, mask.shape[0])
    return float(roc_auc_score(mask.astype(np.int64), anomaly_score, sample_weight=sample_weight))


def anomaly_partial_auc(y_true, anomaly_score, *, max_fpr=0.1, sample_weight=None):
    """Partial ROC AUC up to ``max_fpr``, McClish-standardised, as in DCASE.

    This is exactly ``sklearn.metrics.roc_auc_score(y, anomaly_score,
    max_fpr=max_fpr)`` with 1 = anomaly, the pAUC of the DCASE Task 2
    challenges. It measures how well anomalies are ranked first among the
    samples a detector would flag at a low false-alarm rate.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels, 1 (or ``True``) = anomaly, 0 = normal. Both classes must be present.
    anomaly_score : array-like of shape (n_samples,)
        Higher = more anomalous, e.g. ``-detector.score_samples(X)``.
    max_fpr : float in (0, 1], default=0.1
        Largest false-positive rate (fraction of normal samples flagged)
        included. DCASE uses 0.1. ``max_fpr=1`` gives the full AUC.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.

    Returns
    -------
    pauc : float in [0, 1]
        McClish-standardised: 1.0 is perfect and 0.5 is chance, but a detector
        worse than chance does not reach 0.0 (a perfectly inverted one scores
        ``0.5 * (1 - max_fpr / (2 - max_fpr))``, about 0.474 at ``max_fpr=0.1``).

    Raises
    ------
    ValueError
        If ``max_fpr`` is outside (0, 1], or for the reasons of
        :func:`anomaly_roc_auc`.

    See Also
    --------
    anomaly_roc_auc : The full ROC AUC.
    partial_auc_scorer : The same metric (``max_fpr=0.1``) as a scorer.

    References
    ----------
    .. [1] McClish, D. K. "Analyzing a portion of the ROC curve." Medical
       Decision Making 9(3), 190-195, 1989.
    .. [2] Koizumi, Y. et al. "Description and discussion on DCASE2020
       challenge task2: unsupervised anomalous sound detection for machine
       condition monitoring." DCASE 2020 Workshop.

    Examples
    --------
    >>> import numpy as np
    >>> from skaudio_ad.metrics import anomaly_partial_auc
    >>> y = np.array([0, 0, 0, 0, 1, 1])
    >>> score = np.array([0.1, 0.4, 0.35, 0.8, 0.9, 0.7])
    >>> round(anomaly_partial_auc(y, score, max_fpr=0.5), 4)
    0.8333
    >>> round(anomaly_partial_auc(y, score, max_fpr=1.0), 4)  # the full AUC
    0.875
    """
    if not isinstance(max_fpr, numbers.Real) or isinstance(max_fpr, bool) or not 0 < max_fpr <= 1:
        raise ValueError(f"max_fpr must be a float in (0, 1] (DCASE uses 0.1); got {max_fpr!r}.")
    mask = _as_anomaly_mask(
        y_true, name="y_true", require_both_classes=True, metric="anomaly_partial_auc"
    )
    anomaly_score = _check_anomaly_score(anomaly_score, mask.shape[0])
    return float(
        roc_auc_score(
            mask.astype(np.int64),
            anomaly_score,
            max_fpr=float(max_fpr),
            sample_weight=sample_weight,
        )
    )


def anomaly_f1(y_true, y_pred, *, sample_weight=None):
    """F1 score of the anomaly class, from hard predictions.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels, 1 (or ``True``) = anomaly, 0 = normal.
    y_pred : array-like of shape (n_samples,)
        Predicted labels, 1 (or ``True``) = anomaly, 0 = normal. For a
        detector's ``predict`` output (+1 normal, -1 anomaly) pass
        ``detector.predict(X) == -1``.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.

    Returns
    -------
    f1 : float in [0, 1]
        Harmonic mean of precision and recall of the anomalies; 0.0 when
        there are no true and no predicted anomalies.

    Raises
    ------
    ValueError
        If a label array holds labels other than 0/1 (or booleans), or the
        lengths differ.

    See Also
    --------
    anomaly_balanced_accuracy : Mean of the recalls of both classes.
    f1_scorer : The same metric as a scorer on a fitted detector.

    Examples
    --------
    >>> import numpy as np
    >>> from skaudio_ad.metrics import anomaly_f1
    >>> y_true = np.array([0, 0, 0, 1, 1])          # 1 = anomaly
    >>> y_pred = np.array([1, 1, -1, -1, 1])        # predict(): -1 = anomaly
    >>> anomaly_f1(y_true, y_pred == -1)
    0.5
    """
    true01, pred01 = _check_predictions(y_true, y_pred)
    return float(
        f1_score(
            true01,
            pred01,
            labels=[0, 1],
            pos_label=1,
            average="binary",
            sample_weight=sample_weight,
            zero_division=0.0,
        )
    )


def anomaly_balanced_accuracy(y_true, y_pred, *, sample_weight=None):
    """Balanced accuracy (mean recall of normal and anomaly) of hard predictions.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels, 1 (or ``True``) = anomaly, 0 = normal.
    y_pred : array-like of shape (n_samples,)
        Predicted labels, 1 (or ``True``) = anomaly, 0 = normal (see :func:`anomaly_f1`).
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.

    Returns
    -------
    balanced_accuracy : float in [0, 1]
        Mean of the recall of the normal and of the anomalous samples (as
        ``sklearn.metrics.balanced_accuracy_score``); 0.5 for a detector that
        flags everything or nothing. A class absent from ``y_true`` is left
        out of the mean.

    Raises
    ------
    ValueError
        If a label array holds labels other than 0/1 (or booleans), or the
        lengths differ.

    See Also
    --------
    anomaly_f1 : F1 score of the anomaly class.
    balanced_accuracy_scorer : The same metric as a scorer on a fitted detector.

    Examples
    --------
    >>> import numpy as np
    >>> from skaudio_ad.metrics import anomaly_balanced_accuracy
    >>> y_true = np.array([0, 0, 0, 1, 1])          # 1 = anomaly
    >>> y_pred = np.array([1, 1, -1, -1, 1])        # predict(): -1 = anomaly
    >>> round(anomaly_balanced_accuracy(y_true, y_pred == -1), 4)
    0.5833
    """
    true01, pred01 = _check_predictions(y_true, y_pred)
    # labels=[0, 1] keeps the matrix 2x2 when a class is absent; balanced_accuracy_score
    # would warn about its shape and give the same number.
    cm = confusion_matrix(true01, pred01, labels=[0, 1], sample_weight=sample_weight)
    support = cm.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(cm)[present] / support[present]))


_RESPONSES = ("score_samples", "decision_function", "predict")
_METRICS = {
    "roc_auc": anomaly_roc_auc,
    "partial_auc": anomaly_partial_auc,
    "f1": anomaly_f1,
    "balanced_accuracy": anomaly_balanced_accuracy,
}
_SCORE_METRICS = (anomaly_roc_auc, anomaly_partial_auc)
_LABEL_METRICS = (anomaly_f1, anomaly_balanced_accuracy)


def _predicted_anomalies(y_pred):
    """``predict``'s +1 (normal) / -1 (anomaly) as a mask, True = anomaly."""
    y_pred = np.asarray(y_pred)
    labels = set(np.unique(y_pred).tolist()) if y_pred.dtype.kind in "biuf" else None
    if labels is None or not labels <= {-1, 1}:
        shown = y_pred.dtype if labels is None else _describe_labels(sorted(labels))
        raise ValueError(
            f"predict returned {shown}; an anomaly label scorer expects scikit-learn's "
            "outlier convention, +1 = normal and -1 = anomaly. For a detector that predicts "
            "1 = anomaly / 0 = normal (e.g. pyod), compute the metric with anomaly_f1 / "
            "anomaly_balanced_accuracy on its predictions instead."
        )
    return y_pred == -1


class _OnDetectorOutput:
    """``metric`` applied to a detector's response, in this module's conventions.

    ``make_scorer`` calls it with ``y`` and the estimator's ``decision_function`` (negated:
    anomaly score) or ``predict`` (+1/-1 turned into a mask, True = anomaly). A module-level
    class, so scorers pickle for ``n_jobs > 1``.
    """

    def __init__(self, metric, response):
        self.metric = metric
        self.response = response
        self.__name__ = getattr(metric, "__name__", type(metric).__name__)

    def __call__(self, y_true, y_response, **kwargs):
        y_true = _as_anomaly_mask(y_true, name="y")
        if self.response == "predict":
            y_response = _predicted_anomalies(y_response)
        else:
            y_response = -np.asarray(y_response, dtype=np.float64)
        return float(self.metric(y_true, y_response, **kwargs))


def make_anomaly_scorer(metric, *, response=None, **kwargs):
    """Make a scikit-learn scorer ``scorer(estimator, X, y) -> float`` for outlier detectors.

    Built by :func:`sklearn.metrics.make_scorer`, so that scikit-learn's multi-metric
    evaluation caches the detector's responses: scorers asking for the same response
    method share one call per fold. The scorer works on any fitted scikit-learn outlier
    detector (IsolationForest, LocalOutlierFactor(novelty=True), OneClassSVM,
    EllipticEnvelope, ``ConvAutoencoderDetector``) or a Pipeline ending in one, and can be
    passed as ``scoring=`` (alone or in a dict) to ``cross_validate``, ``cross_val_score``
    or ``GridSearchCV``. Higher is better. It pickles whenever ``metric`` does
    (module-level functions do, lambdas do not), so ``n_jobs > 1`` works.

    Parameters
    ----------
    metric : {"roc_auc", "partial_auc", "f1", "balanced_accuracy"} or callable
        A metric of this module by name or as a function, or any
        ``metric(y_true, y, **kwargs) -> float``. It receives ``y_true`` as a
        boolean mask (True = anomaly) and ``y`` as either the anomaly score
        (float, higher = more anomalous) or a boolean mask of predicted
        anomalies, depending on ``response``.
    response : {"decision_function", "predict", "score_samples"}, default=None
        What the scorer asks of the estimator.

        - ``"decision_function"``: anomaly score ``-estimator.decision_function(X)``.
        - ``"score_samples"``: the same call; ``score_samples`` differs from
          ``decision_function`` by the constant ``offset_``, which leaves any ranking
          metric unchanged (scikit-learn's scorers do not call ``score_samples``).
        - ``"predict"``: ``estimator.predict(X) == -1``; predict must return +1/-1.

        ``None`` picks ``"decision_function"`` for ``"roc_auc"`` / ``"partial_auc"``
        and ``"predict"`` for ``"f1"`` / ``"balanced_accuracy"``; for a custom
        callable it must be given.
    **kwargs
        Passed to ``metric``, e.g. ``max_fpr=0.05`` for ``"partial_auc"``.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y, sample_weight=None) -> float``, where ``y``
        holds labels 1 = anomaly, 0 = normal (or booleans).

    Raises
    ------
    ValueError
        If ``metric`` or ``response`` is unknown, a response does not suit the
        metric (e.g. ROC AUC of hard +1/-1 predictions, which is balanced
        accuracy in disguise), or ``kwargs`` do not fit ``metric``.

    See Also
    --------
    ANOMALY_SCORERS : Ready-made scorers for the four metrics.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import IsolationForest
    >>> from sklearn.model_selection import cross_val_score, StratifiedKFold
    >>> from skaudio_ad.metrics import make_anomaly_scorer
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(60, 2)), rng.normal(8.0, 1.0, size=(6, 2))])
    >>> y = np.r_[np.zeros(60, dtype=int), np.ones(6, dtype=int)]
    >>> scorer = make_anomaly_scorer("partial_auc", max_fpr=0.05)
    >>> scorer
    make_scorer(anomaly_partial_auc, response_method='decision_function', max_fpr=0.05)
    >>> scores = cross_val_score(IsolationForest(random_state=0), X, y,
    ...                          scoring=scorer, cv=StratifiedKFold(3))
    >>> scores.tolist()
    [1.0, 1.0, 1.0]
    """
    from sklearn.metrics import make_scorer

    if isinstance(metric, str):
        if metric not in _METRICS:
            raise ValueError(
                f"metric must be one of {sorted(_METRICS)} or a callable "
                f"metric(y_true, y, **kwargs); got {metric!r}."
            )
        metric = _METRICS[metric]
    elif not callable(metric):
        raise ValueError(
            f"metric must be one of {sorted(_METRICS)} or a callable "
            f"metric(y_true, y, **kwargs); got {metric!r}."
        )
    if response is None:
        if metric in _SCORE_METRICS:
            response = "decision_function"
        elif metric in _LABEL_METRICS:
            response = "predict"
        else:
            raise ValueError(
                f"response is required for the custom metric {metric!r}: pass "
                "response='decision_function' for a metric of a continuous anomaly score "
                "or response='predict' for a metric of predicted anomaly labels."
            )
    if response not in _RESPONSES:
        raise ValueError(f"response must be one of {list(_RESPONSES)}; got {response!r}.")
    if metric in _SCORE_METRICS and response == "predict":
        raise ValueError(
            f"{metric.__name__} ranks a continuous anomaly score; response='predict' "
            "would rank hard +1/-1 labels, which is balanced accuracy in disguise. Use "
            "response='decision_function'."
        )
    if metric in _LABEL_METRICS and response != "predict":
        raise ValueError(
            f"{metric.__name__} compares predicted labels; use response='predict', "
            f"not {response!r}."
        )
    try:
        inspect.signature(metric).bind(None, None, **kwargs)
    except TypeError as exc:
        raise ValueError(
            f"kwargs {sorted(kwargs)} do not fit metric {metric.__name__}: {exc}"
        ) from None
    except ValueError:  # no introspectable signature (some builtins): trust the caller
        pass
    method = "predict" if response == "predict" else "decision_function"
    return make_scorer(_OnDetectorOutput(metric, response), response_method=method, **kwargs)


roc_auc_scorer = make_anomaly_scorer("roc_auc")
"""ROC AUC of ``-decision_function``, 1 = anomaly."""

partial_auc_scorer = make_anomaly_scorer("partial_auc", max_fpr=0.1)
"""DCASE pAUC (McClish-standardised, ``max_fpr=0.1``) of ``-decision_function``."""

f1_scorer = make_anomaly_scorer("f1")
"""F1 of the anomaly class from ``predict`` (-1 = anomaly)."""

balanced_accuracy_scorer = make_anomaly_scorer("balanced_accuracy")
"""Balanced accuracy from ``predict`` (-1 = anomaly)."""

ANOMALY_SCORERS = {
    "roc_auc": roc_auc_scorer,
    "partial_auc": partial_auc_scorer,
    "f1": f1_scorer,
    "balanced_accuracy": balanced_accuracy_scorer,
}
"""The four scorers by name, for ``scoring=ANOMALY_SCORERS`` in multi-metric evaluation.

Two response methods for four metrics: scikit-learn calls ``decision_function`` and
``predict`` once each per fold."""
