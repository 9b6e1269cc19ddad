"""Plots in scikit-learn's display style: from_estimator / from_predictions, .plot(ax=...)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402

from skaudio_ad.metrics import anomaly_partial_auc, anomaly_roc_auc  # noqa: E402
from skaudio_ad.plotting import (  # noqa: E402
    AnomalyRocDisplay,
    ScoreDistributionDisplay,
    plot_roc,
)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(60, 2)), rng.normal(2.5, 1.0, size=(20, 2))])
    y = np.r_[np.zeros(60, dtype=int), np.ones(20, dtype=int)]
    return IsolationForest(random_state=0).fit(X[:60]), X, y


def test_roc_display_from_estimator_uses_the_detectors_own_verdicts(fitted):
    detector, X, y = fitted
    display = AnomalyRocDisplay.from_estimator(detector, X, y)
    score = -detector.decision_function(X)
    assert display.roc_auc == anomaly_roc_auc(y, score)
    assert display.partial_auc == anomaly_partial_auc(y, score)
    flagged = detector.predict(X) == -1
    assert display.operating_point == (flagged[y == 0].mean(), flagged[y == 1].mean())
    assert display.name == "IsolationForest"
    plt.close(display.figure_)


def test_displays_draw_into_given_axes(fitted):
    detector, X, y = fitted
    fig, (left, right) = plt.subplots(1, 2)
    roc = AnomalyRocDisplay.from_estimator(detector, X, y, ax=left)
    dist = ScoreDistributionDisplay.from_estimator(detector, X, y, ax=right)
    assert roc.ax_ is left and dist.ax_ is right and roc.figure_ is dist.figure_ is fig
    assert dist.threshold == -detector.offset_
    labels = [t.get_text() for t in right.get_legend().get_texts()]
    assert labels[:2] == ["normal (n=60)", "anomalous (n=20)"]
    # plot() again, elsewhere, from the same computed values.
    fig2, ax2 = plt.subplots()
    assert roc.plot(ax=ax2).ax_ is ax2
    plt.close(fig)
    plt.close(fig2)


def test_plot_roc_marks_the_given_verdicts_only():
    y = np.array([0, 0, 0, 1, 1])
    score = np.array([0.1, 0.2, 0.9, 0.8, 0.95])
    fig = plot_roc(y, score)
    assert len(fig.axes[0].lines) == 2  # chance and the curve: no threshold applied here
    plt.close(fig)
    fig = plot_roc(y, score, y_pred=[0, 0, 1, 0, 1])
    point = fig.axes[0].lines[-1]
    assert (point.get_xdata()[0], point.get_ydata()[0]) == (pytest.approx(1 / 3), 0.5)
    plt.close(fig)
    with pytest.raises(ValueError, match="Labels are 1 = anomaly"):
        plot_roc(y, score, y_pred=[1, 1, -1, -1, 1])
