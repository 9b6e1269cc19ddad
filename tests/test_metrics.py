"""Specifications of skaudio_ad.metrics: anomaly labels 1, anomaly scores higher = worse."""

import pickle

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, OutlierMixin, clone
from sklearn.ensemble import IsolationForest
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    get_scorer,
    roc_auc_score,
)
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skaudio_ad.metrics import (
    ANOMALY_SCORERS,
    anomaly_balanced_accuracy,
    anomaly_f1,
    anomaly_partial_auc,
    anomaly_roc_auc,
    balanced_accuracy_scorer,
    f1_scorer,
    make_anomaly_scorer,
    partial_auc_scorer,
    roc_auc_scorer,
)

HYPOTHESIS = settings(max_examples=25, deadline=None)


class _ColumnDetector(OutlierMixin, BaseEstimator):
    """Fake fitted detector: column 0 of X is its anomaly score, flagged above 0.5."""

    offset_ = -0.5

    def fit(self, X, y=None):
        return self

    def score_samples(self, X):
        return -np.asarray(X, dtype=np.float64)[:, 0]

    def decision_function(self, X):
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        return np.where(self.decision_function(X) < 0, -1, 1)


class _DecisionOnlyDetector(_ColumnDetector):
    """A detector with decision_function but no score_samples (as some wrappers)."""

    score_samples = property(lambda self: self._missing())

    def _missing(self):
        raise AttributeError("no score_samples")

    def decision_function(self, X):
        return 0.5 - np.asarray(X, dtype=np.float64)[:, 0]


class _ZeroOnePredictDetector(_ColumnDetector):
    """pyod-style predict: 1 = anomaly, 0 = normal (not scikit-learn's convention)."""

    def predict(self, X):
        return (np.asarray(X)[:, 0] > 0.5).astype(int)


@pytest.fixture(scope="module")
def planted():
    """Two Gaussian blobs of normals plus far-away planted outliers; y: 1 = anomaly."""
    rng = np.random.default_rng(0)
    normal = np.vstack([rng.normal(0.0, 1.0, (45, 2)), rng.normal(5.0, 1.0, (45, 2))])
    angle = np.linspace(0.0, 2 * np.pi, 9, endpoint=False)
    outliers = 2.5 + 15.0 * np.column_stack([np.cos(angle), np.sin(angle)])
    X = np.vstack([normal, outliers])
    y = np.r_[np.zeros(len(normal), dtype=int), np.ones(len(outliers), dtype=int)]
    return X, y


@pytest.fixture(scope="module")
def overlapping():
    """Planted outliers that overlap the normals, so no metric is trivially 1.0."""
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(0.0, 1.0, (90, 3)), rng.uniform(-5.0, 5.0, (12, 3))])
    y = np.r_[np.zeros(90, dtype=int), np.ones(12, dtype=int)]
    return X, y


# ---------------------------------------------------------------------------
# Perfect and inverted detectors
# ---------------------------------------------------------------------------

Y_FAKE = np.array([0, 0, 0, 0, 0, 0, 1, 1, 0, 1])


def test_perfect_fake_detector_scores_one():
    X = Y_FAKE[:, None].astype(float)
    detector = _ColumnDetector()
    assert roc_auc_scorer(detector, X, Y_FAKE) == 1.0
    assert partial_auc_scorer(detector, X, Y_FAKE) == 1.0
    assert f1_scorer(detector, X, Y_FAKE) == 1.0
    assert balanced_accuracy_scorer(detector, X, Y_FAKE) == 1.0


def test_inverted_fake_detector_scores_zero():
    X = (1 - Y_FAKE)[:, None].astype(float)
    detector = _ColumnDetector()
    assert roc_auc_scorer(detector, X, Y_FAKE) == 0.0
    assert f1_scorer(detector, X, Y_FAKE) == 0.0
    assert balanced_accuracy_scorer(detector, X, Y_FAKE) == 0.0
    # McClish standardisation floors a fully inverted pAUC at 0.5 * (1 - f / (2 - f)).
    assert partial_auc_scorer(detector, X, Y_FAKE) == pytest.approx(0.5 * (1 - 0.1 / 1.9))


def test_isolation_forest_ranks_planted_outliers_first(planted):
    X, y = planted
    detector = IsolationForest(random_state=0).fit(X)
    assert anomaly_roc_auc(y, -detector.score_samples(X)) == 1.0
    assert anomaly_roc_auc(y, detector.score_samples(X)) == 0.0
    assert roc_auc_scorer(detector, X, y) == 1.0
    assert partial_auc_scorer(detector, X, y) == 1.0
    # The default contamination="auto" threshold flags every planted outlier.
    assert anomaly_f1(y, detector.predict(X) == -1) == f1_scorer(detector, X, y)
    assert np.all(detector.predict(X)[y == 1] == -1)


# ---------------------------------------------------------------------------
# Metric functions
# ---------------------------------------------------------------------------

labelled_scores = st.lists(
    st.tuples(
        st.integers(0, 1),
        st.one_of(st.integers(-3, 3).map(float), st.floats(-1e6, 1e6)),
    ),
    min_size=2,
    max_size=40,
)


@HYPOTHESIS
@given(pairs=labelled_scores, max_fpr=st.floats(0.01, 1.0))
def test_partial_auc_is_sklearn_max_fpr_auc_of_anomaly_score(pairs, max_fpr):
    y = np.array([p[0] for p in pairs])
    score = np.array([p[1] for p in pairs])
    assume(0 < y.sum() < len(y))
    expected = roc_auc_score(y, score, max_fpr=max_fpr)
    assert anomaly_partial_auc(y, score, max_fpr=max_fpr) == pytest.approx(expected)
    # The same labels as booleans.
    assert anomaly_partial_auc(y == 1, score, max_fpr=max_fpr) == pytest.approx(expected)


@HYPOTHESIS
@given(pairs=labelled_scores)
def test_roc_auc_of_negated_score_is_one_minus_auc(pairs):
    y = np.array([p[0] for p in pairs])
    score = np.array([p[1] for p in pairs])
    assume(0 < y.sum() < len(y))
    auc = anomaly_roc_auc(y, score)
    assert auc == pytest.approx(roc_auc_score(y, score))
    assert anomaly_roc_auc(y, -score) == pytest.approx(1 - auc)


def test_partial_auc_fixed_example():
    y = np.array([0, 0, 0, 0, 1, 1])
    score = np.array([0.1, 0.4, 0.35, 0.8, 0.9, 0.7])
    # By hand: partial area 0.375 up to FPR 0.5, McClish 0.5 * (1 + 0.25 / 0.375).
    assert anomaly_partial_auc(y, score, max_fpr=0.5) == pytest.approx(5 / 6)
    assert anomaly_partial_auc(y, score, max_fpr=0.1) == pytest.approx(
        roc_auc_score(y, score, max_fpr=0.1)
    )
    assert anomaly_partial_auc(y, score) == anomaly_partial_auc(y, score, max_fpr=0.1)
    assert anomaly_partial_auc(y, score, max_fpr=1.0) == pytest.approx(0.875)
    assert anomaly_roc_auc(y, score) == pytest.approx(0.875)


@pytest.mark.parametrize("max_fpr", [0, -0.1, 1.5, "0.1", None])
def test_partial_auc_rejects_max_fpr_outside_unit_interval(max_fpr):
    with pytest.raises(ValueError, match=r"max_fpr must be a float in \(0, 1\]"):
        anomaly_partial_auc([0, 1, 0], [0.1, 0.9, 0.2], max_fpr=max_fpr)


def test_sample_weight_reaches_the_metric():
    y = np.array([0, 0, 1, 1])
    score = np.array([0.1, 0.8, 0.7, 0.9])  # the normal at 0.8 outranks an anomaly
    assert anomaly_roc_auc(y, score) == 0.75
    assert anomaly_roc_auc(y, score, sample_weight=[1, 0, 1, 1]) == 1.0


@HYPOTHESIS
@given(pairs=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=30))
def test_f1_and_balanced_accuracy_match_sklearn(pairs):
    y_true = np.array([p[0] for p in pairs])
    y_pred = np.array([p[1] for p in pairs])
    f1 = anomaly_f1(y_true, y_pred)
    balanced_accuracy = anomaly_balanced_accuracy(y_true, y_pred)
    assert f1 == pytest.approx(f1_score(y_true, y_pred, labels=[0, 1], zero_division=0.0))
    if len(np.unique(y_true)) == 2:
        assert balanced_accuracy == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    # Booleans are the same labels; the convention is one, whatever the array holds.
    assert anomaly_f1(y_true == 1, y_pred == 1) == f1
    assert anomaly_balanced_accuracy(y_true == 1, y_pred == 1) == balanced_accuracy


def test_f1_is_of_the_anomaly_class():
    y_true = np.array([0, 0, 0, 0, 1, 1])
    y_pred = np.array([1, 1, 1, -1, -1, 1])  # predict(): one hit, one miss, one false alarm
    assert anomaly_f1(y_true, y_pred == -1) == 0.5
    # The normal class would score 6/8 = 0.75.
    assert f1_score(y_true, (y_pred == -1).astype(int), pos_label=0) == 0.75


def test_one_label_convention_no_guessing():
    # 1 = anomaly in every array, even when it holds one label only.
    assert anomaly_f1([1, 0, 1], [1, 1, 1]) == 0.8
    assert anomaly_balanced_accuracy([0, 0, 0], [0, 0, 0]) == 1.0
    assert anomaly_f1([True, True], [True, True]) == 1.0
    # predict's -1 is refused with the way out, never silently reinterpreted.
    with pytest.raises(ValueError, match=r"y_pred has labels \{-1, 1\}.*pass y_pred == -1"):
        anomaly_f1([1, 0, 1], [-1, 1, -1])
    with pytest.raises(ValueError, match=r"y_true has labels \{-1, 1\}"):
        anomaly_roc_auc([-1, 1, -1], [0.1, 0.2, 0.3])


@pytest.mark.parametrize(
    "y_true",
    [
        pytest.param([1, 2, 1, 2], id="one-two"),
        pytest.param(["normal", "anomaly", "normal"], id="strings"),
        pytest.param([-1, 0, 1], id="three-classes"),
        pytest.param([0.0, 0.5, 1.0], id="fractional"),
        pytest.param([0.0, np.nan, 1.0], id="nan"),
        pytest.param([0, 1, None], id="none"),
    ],
)
@pytest.mark.parametrize(
    "metric", [anomaly_roc_auc, anomaly_partial_auc, anomaly_f1, anomaly_balanced_accuracy]
)
def test_invalid_labels_name_the_accepted_sets(metric, y_true):
    other = np.linspace(0.0, 1.0, len(y_true))
    if metric in (anomaly_f1, anomaly_balanced_accuracy):
        other = other > 0.5
    with pytest.raises(ValueError, match=r"y_true .*Labels are 1 = anomaly, 0 = normal"):
        metric(y_true, other)


@pytest.mark.parametrize("y_true", [[0, 0, 0], [1, 1, 1], [True, True]])
@pytest.mark.parametrize("metric", [anomaly_roc_auc, anomaly_partial_auc])
def test_auc_needs_both_classes(metric, y_true):
    with pytest.raises(ValueError, match="needs both normal and anomalous samples in y_true"):
        metric(y_true, np.arange(len(y_true), dtype=float))


def test_shape_errors_say_what_to_pass():
    with pytest.raises(ValueError, match=r"y_true must be 1-D.*ravel"):
        anomaly_roc_auc(np.array([[0], [1]]), [0.1, 0.2])
    with pytest.raises(ValueError, match="y_true is empty"):
        anomaly_f1([], [])
    with pytest.raises(ValueError, match="y_true has 2 labels but anomaly_score has 3"):
        anomaly_roc_auc([0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="y_true has 2 labels but y_pred has 3"):
        anomaly_f1([0, 1], [1, 0, 1])
    with pytest.raises(ValueError, match="anomaly_score"):
        anomaly_roc_auc([0, 1], [0.1, np.inf])


# ---------------------------------------------------------------------------
# Scorers inside model selection
# ---------------------------------------------------------------------------


def _manual_fold_scores(estimator, X, y, cv):
    rows = []
    for train, test in cv.split(X, y):
        fitted = clone(estimator).fit(X[train])
        anomaly_score = -fitted.score_samples(X[test])
        rows.append(
            {
                "roc_auc": anomaly_roc_auc(y[test], anomaly_score),
                "partial_auc": anomaly_partial_auc(y[test], anomaly_score),
                "f1": anomaly_f1(y[test], fitted.predict(X[test]) == -1),
                "balanced_accuracy": anomaly_balanced_accuracy(
                    y[test], fitted.predict(X[test]) == -1
                ),
            }
        )
    return rows


@pytest.mark.parametrize(
    "estimator",
    [
        pytest.param(IsolationForest(n_estimators=25, random_state=0), id="iforest"),
        pytest.param(
            Pipeline(
                [
                    ("scale", StandardScaler()),
                    ("detect", IsolationForest(n_estimators=25, random_state=0)),
                ]
            ),
            id="pipeline",
        ),
    ],
)
def test_anomaly_scorers_in_cross_validate(estimator, overlapping):
    X, y = overlapping
    cv = StratifiedKFold(3)
    result = cross_validate(estimator, X, y, scoring=ANOMALY_SCORERS, cv=cv, error_score="raise")
    expected = _manual_fold_scores(estimator, X, y, cv)
    for name in ANOMALY_SCORERS:
        np.testing.assert_allclose(result[f"test_{name}"], [row[name] for row in expected])
    assert 0.6 < result["test_roc_auc"].mean() < 1.0  # informative, not saturated
    # Booleans are the same labels.
    result_bool = cross_validate(estimator, X, y == 1, scoring=ANOMALY_SCORERS, cv=cv,
                                 error_score="raise")
    for name in ANOMALY_SCORERS:
        np.testing.assert_allclose(result_bool[f"test_{name}"], result[f"test_{name}"])


def test_builtin_roc_auc_string_scorer_reports_one_minus_auc(overlapping):
    """The trap this module exists for: sklearn's "roc_auc" ranks by decision_function."""
    X, y = overlapping
    detector = IsolationForest(random_state=0).fit(X)
    ours = roc_auc_scorer(detector, X, y)
    assert ours > 0.8
    assert get_scorer("roc_auc")(detector, X, y) == pytest.approx(1 - ours)


def test_scorers_pickle_round_trip(overlapping):
    X, y = overlapping
    detector = IsolationForest(random_state=0).fit(X)
    for name, scorer in ANOMALY_SCORERS.items():
        restored = pickle.loads(pickle.dumps(scorer))
        assert repr(restored) == repr(scorer)
        assert restored(detector, X, y) == scorer(detector, X, y), name
    restored = pickle.loads(pickle.dumps(ANOMALY_SCORERS))
    assert restored.keys() == ANOMALY_SCORERS.keys()


@pytest.mark.slow  # starting loky workers takes seconds; pickling is covered above
def test_grid_search_with_worker_processes(overlapping):
    X, y = overlapping
    search = GridSearchCV(
        IsolationForest(random_state=0),
        {"max_samples": [32, 64]},
        scoring=ANOMALY_SCORERS,
        refit="partial_auc",
        cv=StratifiedKFold(3),
        n_jobs=2,
        error_score="raise",
    ).fit(X, y)
    serial = GridSearchCV(
        IsolationForest(random_state=0),
        {"max_samples": [32, 64]},
        scoring=ANOMALY_SCORERS,
        refit="partial_auc",
        cv=StratifiedKFold(3),
        error_score="raise",
    ).fit(X, y)
    for name in ANOMALY_SCORERS:
        np.testing.assert_allclose(
            search.cv_results_[f"mean_test_{name}"], serial.cv_results_[f"mean_test_{name}"]
        )
    assert np.all(np.isfinite(search.cv_results_["mean_test_roc_auc"]))


def test_scorers_are_sklearn_scorers_with_two_response_methods():
    from sklearn.metrics._scorer import _Scorer

    assert all(isinstance(scorer, _Scorer) for scorer in ANOMALY_SCORERS.values())
    assert repr(roc_auc_scorer) == (
        "make_scorer(anomaly_roc_auc, response_method='decision_function')"
    )
    assert repr(partial_auc_scorer) == (
        "make_scorer(anomaly_partial_auc, response_method='decision_function', max_fpr=0.1)"
    )
    assert repr(f1_scorer) == "make_scorer(anomaly_f1, response_method='predict')"
    assert {s._response_method for s in ANOMALY_SCORERS.values()} == {
        "decision_function", "predict"}


class _CountingDetector(_ColumnDetector):
    calls = None

    def decision_function(self, X):
        type(self).calls.append("decision_function")
        return super().decision_function(X)

    def predict(self, X):
        type(self).calls.append("predict")
        return np.where(super().decision_function(X) < 0, -1, 1)


def test_all_scorers_call_each_response_once_per_fold():
    X = np.r_[Y_FAKE, Y_FAKE, Y_FAKE][:, None].astype(float)
    y = np.r_[Y_FAKE, Y_FAKE, Y_FAKE]
    _CountingDetector.calls = []
    cross_validate(_CountingDetector(), X, y, scoring=ANOMALY_SCORERS, cv=StratifiedKFold(3))
    assert sorted(_CountingDetector.calls) == ["decision_function"] * 3 + ["predict"] * 3


# ---------------------------------------------------------------------------
# make_anomaly_scorer
# ---------------------------------------------------------------------------


def test_responses_agree_for_ranking_metrics(overlapping):
    X, y = overlapping
    detector = IsolationForest(random_state=0).fit(X)
    by_samples = make_anomaly_scorer("roc_auc", response="score_samples")(detector, X, y)
    by_decision = make_anomaly_scorer("roc_auc", response="decision_function")(detector, X, y)
    assert by_samples == pytest.approx(by_decision)
    assert by_samples == pytest.approx(anomaly_roc_auc(y, -detector.score_samples(X)))


def test_score_samples_falls_back_to_decision_function():
    X = Y_FAKE[:, None].astype(float)
    detector = _DecisionOnlyDetector()
    assert not hasattr(detector, "score_samples")
    assert roc_auc_scorer(detector, X, Y_FAKE) == 1.0


def test_custom_metric_and_kwargs(overlapping):
    X, y = overlapping
    detector = IsolationForest(random_state=0).fit(X)
    ap = make_anomaly_scorer(average_precision_score, response="decision_function")
    assert ap(detector, X, y) == pytest.approx(
        average_precision_score(y, -detector.score_samples(X))
    )
    strict = make_anomaly_scorer("partial_auc", max_fpr=0.05)
    assert strict(detector, X, y) == pytest.approx(
        roc_auc_score(y, -detector.score_samples(X), max_fpr=0.05)
    )
    assert strict(detector, X, y) != partial_auc_scorer(detector, X, y)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("roc_auc",), {"response": "predict"}, "balanced accuracy in disguise"),
        (("f1",), {"response": "decision_function"}, "use response='predict'"),
        (("accuracy",), {}, r"metric must be one of \['balanced_accuracy'"),
        ((f1_score,), {}, "response is required for the custom metric"),
        (("roc_auc",), {"response": "predict_proba"}, "response must be one of"),
        (("roc_auc",), {"max_fpr": 0.1}, r"kwargs \['max_fpr'\] do not fit"),
    ],
)
def test_make_anomaly_scorer_rejects_bad_combinations(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_anomaly_scorer(*args, **kwargs)


def test_scorers_reject_estimators_outside_the_convention():
    X = Y_FAKE[:, None].astype(float)
    with pytest.raises(ValueError, match=r"predict returned \{0, 1\}.*\+1 = normal"):
        f1_scorer(_ZeroOnePredictDetector(), X, Y_FAKE)
    with pytest.raises(AttributeError, match="decision_function"):
        roc_auc_scorer(StandardScaler().fit(X), X, Y_FAKE)
