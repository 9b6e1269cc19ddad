"""
============================================
Tuning latent size and threshold with a grid
============================================

With a few labelled anomalies, :class:`~sklearn.model_selection.GridSearchCV` can choose
the detector's parameters. Three settings make it work for a detector that must learn from
normal clips only:

* ``ConvAutoencoderDetector(normal_label=0)``: ``fit(X, y)`` trains on the rows with
  ``y == 0`` only, in every cross-validation fold and in the final refit, while the test
  folds keep both classes for scoring;
* ``scoring=ANOMALY_SCORERS``: the scorers of :mod:`skaudio_ad.metrics`, which read 1 as
  an anomaly (the built-in ``"roc_auc"`` and ``"f1"`` would not);
* ``memory=<folder>``: the threshold k only moves ``offset_``, so a cached network is
  reused for every k, and a grid over k costs one training per fold and latent size.
"""

# %%
# Labelled clips: normals and a few anomalies
# -------------------------------------------
#
# Labels follow MIMII and DCASE: 1 = anomaly, 0 = normal.
import tempfile

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from skaudio_ad import ConvAutoencoderDetector, MelSpectrogramTransformer
from skaudio_ad.datasets import make_machine_sounds
from skaudio_ad.metrics import ANOMALY_SCORERS

X, y = make_machine_sounds(90, 30, machine="pump", duration=2.0, random_state=0)
print(f"X: {X.shape} (clips, samples); {np.sum(y == 0)} normal, {np.sum(y == 1)} anomalous")

# %%
# The search
# ----------
#
# Parameters of a pipeline step are addressed as ``<step>__<parameter>``. ``refit="f1"``
# picks the candidate with the best mean F1 over the test folds and refits it on all of
# ``X``, of which ``normal_label=0`` keeps the normal clips. The stratified folds put
# anomalies in every test fold.
cache = tempfile.TemporaryDirectory()
pipe = Pipeline([
    ("mel", MelSpectrogramTransformer()),
    ("detector", ConvAutoencoderDetector(
        normal_label=0, memory=cache.name, max_epochs=30, random_state=0)),
])
param_grid = {
    "detector__latent_dim": [4, 16],
    "detector__threshold": [0.0, 1.0, 2.0, 3.0, 4.0],
}
search = GridSearchCV(
    pipe,
    param_grid,
    scoring=ANOMALY_SCORERS,  # roc_auc, partial_auc, f1, balanced_accuracy
    refit="f1",
    cv=StratifiedKFold(3, shuffle=True, random_state=0),
)
search.fit(X, y)
print(f"best parameters: {search.best_params_}")
print(f"best mean F1 over the test folds: {search.best_score_:.3f}")

# %%
# Reading ``cv_results_``
# -----------------------
#
# One row per candidate; ``mean_test_<scorer>`` and ``std_test_<scorer>`` for each of the
# four scorers, ``rank_test_<scorer>`` ranks them (1 = best). The ROC AUC and the partial
# AUC measure the ranking of clips, which k does not change: they are equal for every k of
# one latent size. F1 and balanced accuracy measure ``predict`` and move with k.
results = search.cv_results_
columns = ["param_detector__latent_dim", "param_detector__threshold", "mean_test_roc_auc",
           "mean_test_partial_auc", "mean_test_f1", "mean_test_balanced_accuracy",
           "rank_test_f1"]
try:
    import pandas as pd
except ImportError:  # pandas is optional: print the same table without it
    print(" ".join(name.removeprefix("param_detector__").removeprefix("mean_test_")
                   for name in columns))
    for row in zip(*(results[name] for name in columns), strict=True):
        print(" ".join(f"{value:.3f}" if isinstance(value, float) else str(value)
                       for value in row))
else:
    table = pd.DataFrame({name: results[name] for name in columns})
    table.columns = [name.removeprefix("param_detector__").removeprefix("mean_test_")
                     for name in columns]
    print(table.round(3).to_string(index=False))

# %%
fig, (ax_auc, ax_f1) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
for j, latent in enumerate(param_grid["detector__latent_dim"]):
    rows = results["param_detector__latent_dim"] == latent
    k = np.asarray(results["param_detector__threshold"][rows], dtype=float)
    for ax, name in [(ax_auc, "roc_auc"), (ax_f1, "f1")]:
        mean, std = results[f"mean_test_{name}"][rows], results[f"std_test_{name}"][rows]
        ax.errorbar(k + 0.04 * (j - 0.5), mean, yerr=std, marker="o", capsize=3,
                    label=f"latent_dim = {latent}")
ax_auc.set_title("ROC AUC: independent of k")
ax_f1.set_title("F1 of the anomaly class: depends on k")
for ax in (ax_auc, ax_f1):
    ax.set_xlabel("threshold k")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
ax_auc.set_ylabel("mean over 3 test folds (+/- std)")
ax_f1.legend(loc="lower left", fontsize="small")

# %%
# The refitted model
# ------------------
#
# ``best_estimator_`` is the whole pipeline, refitted on the normal clips of ``X``: none of
# its calibration clips (``validation_indices_``, rows of ``X``) is an anomaly.
best = search.best_estimator_
print(f"calibration rows are all normal: {bool(np.all(y[best[-1].validation_indices_] == 0))}")
cache.cleanup()

# %%
# Choosing by F1 tunes the threshold to the share of anomalies in the labelled set, which
# a deployment may not share; choose by ``"roc_auc"`` or ``"partial_auc"`` (ranking, k
# irrelevant) to pick the network, and set k for the false-alarm rate you can afford (see
# :ref:`sphx_glr_auto_examples_plot_score_distributions.py`).
