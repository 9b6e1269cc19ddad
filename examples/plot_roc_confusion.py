"""
===============================
ROC curve and confusion matrix
===============================

Two views of one detector on a labelled test set: the ROC curve ranks clips by anomaly
score and does not depend on the threshold; the confusion matrix counts the verdicts of
``predict`` at the threshold chosen in ``fit``.

Along the way, the one sign trap of anomaly detection with scikit-learn: detectors score
*normality* (``score_samples``, higher = more normal) while datasets label *anomalies* 1.
Scikit-learn's own ``roc_auc_score`` on ``score_samples`` and the built-in ``"roc_auc"``
scorer therefore report ``1 - AUC``; the functions and scorers of
:mod:`skaudio_ad.metrics` do not.
"""

# %%
# Fit on normal slider sounds, score a labelled test set
# -------------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay, get_scorer, roc_auc_score
from sklearn.pipeline import Pipeline

from skaudio_ad import ConvAutoencoderDetector, MelSpectrogramTransformer
from skaudio_ad.datasets import make_machine_sounds
from skaudio_ad.metrics import anomaly_roc_auc, roc_auc_scorer
from skaudio_ad.plotting import AnomalyRocDisplay

X_train, _ = make_machine_sounds(100, 0, machine="slider", duration=3.0, random_state=0)
X_test, y_test = make_machine_sounds(40, 40, machine="slider", duration=3.0, random_state=1)

model = Pipeline([
    ("mel", MelSpectrogramTransformer()),
    ("detector", ConvAutoencoderDetector(max_epochs=40, random_state=0)),
]).fit(X_train)

anomaly_score = -model.score_samples(X_test)  # higher = more anomalous

# %%
# The ROC curve
# -------------
#
# Each point is one threshold on the anomaly score: the share of normal clips flagged (x)
# against the share of anomalies caught (y). The shaded band is the region of the DCASE
# partial AUC (false-positive rate up to 0.1); the dot is where the detector's own ``predict``
# stands: its threshold, mean + 2 std of the validation errors.
display = AnomalyRocDisplay.from_estimator(model, X_test, y_test, name="conv autoencoder",
                                           title="Slider, 6 dB SNR")

# %%
# The confusion matrix
# --------------------
#
# ``predict`` returns +1 (normal) / -1 (anomaly), the labels 0 (normal) / 1 (anomaly):
# convert one to the other before counting. ``y_pred == -1`` is the anomaly mask.
y_pred = model.predict(X_test)
predicted_anomaly = (y_pred == -1).astype(int)  # 1 = anomaly, like y_test

fig, ax = plt.subplots(figsize=(4.6, 4), layout="constrained")
ConfusionMatrixDisplay.from_predictions(
    y_test, predicted_anomaly, display_labels=["normal", "anomaly"], cmap="Blues",
    colorbar=False, ax=ax,
)
ax.set_title(f"predict at k = {model[-1].threshold:g}")

# %%
# The red dot on the ROC curve is this matrix: its x is the share of normal clips in the
# right column, its y the share of anomalies there. A large k raises few false alarms and
# misses the subtle anomalies; a smaller k moves the dot up and to the right along the
# curve. :ref:`sphx_glr_auto_examples_plot_score_distributions.py` shows the trade-off.

# %%
# Sign conventions, checked
# -------------------------
#
# The same AUC four ways. :func:`~skaudio_ad.metrics.anomaly_roc_auc` takes the anomaly
# score; :data:`~skaudio_ad.metrics.roc_auc_scorer` takes the fitted model and negates
# ``decision_function`` itself (``score_samples - offset_``: the same ranking).
# Scikit-learn's ``roc_auc_score`` is right only with the minus sign, and its ``"roc_auc"``
# scorer (which ranks by ``decision_function``, higher = normal) gives the complement.
print(f"anomaly_roc_auc(y, -score_samples)      {anomaly_roc_auc(y_test, anomaly_score):.4f}")
print(f"roc_auc_scorer(model, X, y)             {roc_auc_scorer(model, X_test, y_test):.4f}")
print(f"roc_auc_score(y, -score_samples)        {roc_auc_score(y_test, anomaly_score):.4f}")
print(f"roc_auc_score(y, score_samples)         {roc_auc_score(y_test, -anomaly_score):.4f}"
      "  <- 1 - AUC")
print(f"get_scorer('roc_auc')(model, X, y)      "
      f"{get_scorer('roc_auc')(model, X_test, y_test):.4f}  <- 1 - AUC")

# %%
# And the three outputs of the detector agree: ``decision_function = score_samples -
# offset_`` is negative exactly where ``predict`` says -1.
decision = model.decision_function(X_test)
assert np.allclose(decision, model.score_samples(X_test) - model[-1].offset_)
assert np.array_equal(decision < 0, y_pred == -1)
