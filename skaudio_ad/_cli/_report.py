"""The command line's text report: metrics and the confusion matrix of a detector's verdicts.

Verdicts come from the detector's own ``predict`` (+1 normal / -1 anomaly); the threshold is
only printed, never re-applied here.
"""

import numpy as np


def metrics_report(y_true, anomaly_score, y_pred, threshold, title):
    """The text block for labels ``y_true`` (1 = anomaly), scores and ``predict`` output."""
    from sklearn.metrics import confusion_matrix

    from .. import metrics

    y_true = np.asarray(y_true, dtype=int)
    predicted_anomaly = (np.asarray(y_pred) == -1).astype(int)
    n_anomalous = int(np.sum(y_true))
    rows = [
        ("ROC AUC", f"{metrics.anomaly_roc_auc(y_true, anomaly_score):.3f}"),
        ("partial AUC (FPR <= 0.1)", f"{metrics.anomaly_partial_auc(y_true, anomaly_score):.3f}"),
        ("F1 (anomaly class)", f"{metrics.anomaly_f1(y_true, predicted_anomaly):.3f}"),
        ("balanced accuracy",
         f"{metrics.anomaly_balanced_accuracy(y_true, predicted_anomaly):.3f}"),
        ("decision threshold", f"anomaly score > {threshold:.4g}  (-offset_)"),
    ]
    (tn, fp), (fn, tp) = confusion_matrix(y_true, predicted_anomaly, labels=[0, 1])
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


def print_metrics(*args):
    print(metrics_report(*args), flush=True)


def save_plots(out, *, model, y_true, anomaly_score, y_pred, groups, normal, anomalous,
               dpi=120):
    """The four report figures into folder ``out``; returns their paths.

    ``normal`` and ``anomalous`` are ``(S, frame_errors, title, spans, spans_label)`` of the
    clips to show (spectrograms already computed while scoring: no file is read twice);
    ``y_pred`` is the detector's ``predict`` output, which marks the ROC operating point.
    """
    import os

    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    from ..plotting import (
        AnomalyRocDisplay,
        ScoreDistributionDisplay,
        plot_frame_errors,
        plot_spectrograms,
    )

    spec = {name: getattr(model[0], name) for name in ("sr", "hop_length", "fmin", "fmax")}
    threshold = -model[-1].offset_
    S_norm, _, title_norm, _, _ = normal
    S_anom, errors, title_anom, spans, spans_label = anomalous
    figures = {
        "roc.png": lambda: AnomalyRocDisplay.from_predictions(
            y_true, anomaly_score, y_pred=np.asarray(y_pred) == -1).figure_,
        "score_distributions.png": lambda: ScoreDistributionDisplay.from_predictions(
            groups, threshold).figure_,
        "spectrograms.png": lambda: plot_spectrograms(
            S_norm, S_anom, titles=(title_norm, title_anom), **spec),
        "frame_errors.png": lambda: plot_frame_errors(
            S_anom, errors, threshold=threshold, spans=spans, spans_label=spans_label,
            title=f"Per-frame reconstruction error, {' '.join(title_anom.split())}", **spec),
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
