"""
==========
Quickstart
==========

Fit a detector on recordings of a healthy fan, then score new recordings: the whole
workflow in ten lines. The clips are synthetic fan sounds with planted faults
(:func:`~skaudio_ad.datasets.make_machine_sounds`), so we know which ones are anomalous.

This is the code of the :ref:`quickstart <quickstart>` on the home page.
"""

# %%
# Train on normal clips, score a labelled test set
# ------------------------------------------------
#
# A :class:`~sklearn.pipeline.Pipeline` turns waveforms into log-mel spectrograms
# (:class:`~skaudio_ad.MelSpectrogramTransformer`) and fits a convolutional autoencoder on
# them (:class:`~skaudio_ad.ConvAutoencoderDetector`). ``fit`` sees normal clips only.
from sklearn.pipeline import Pipeline

import skaudio_ad.plotting  # for the figure at the end
from skaudio_ad import ConvAutoencoderDetector, MelSpectrogramTransformer
from skaudio_ad.datasets import make_machine_sounds
from skaudio_ad.metrics import anomaly_roc_auc

X_train, _ = make_machine_sounds(100, 0, machine="fan", duration=5.0, random_state=0)
X_test, y_test = make_machine_sounds(30, 30, machine="fan", duration=5.0, random_state=1)

model = Pipeline([
    ("mel", MelSpectrogramTransformer()),          # rows are clips: (n_clips, n_samples)
    ("detector", ConvAutoencoderDetector(random_state=0)),
]).fit(X_train)                                     # normal clips only

scores = model.score_samples(X_test)                # higher = more normal
labels = model.predict(X_test)                      # +1 normal, -1 anomaly
print(anomaly_roc_auc(y_test, -scores))             # y_test: 1 = anomaly

# %%
# What came out
# -------------
#
# ``X_train`` holds one five-second waveform per **row**, 16 kHz: ``(n_clips, n_samples)``.
# ``y_test`` labels an anomaly 1, as MIMII and DCASE do, whereas ``predict`` follows
# scikit-learn and returns -1 for an anomaly. The metrics of :mod:`skaudio_ad.metrics` take
# the 1 = anomaly labels and an *anomaly score*, higher = more anomalous, which is
# ``-score_samples``. Passing ``scores`` itself would report ``1 - AUC``.
print(f"X_train: {X_train.shape}, y_test: {y_test[:3]} ... {y_test[-3:]}")
print(f"first scores (higher = more normal): {scores[:3].round(3)}")
print(f"predicted anomalous (-1): {(labels[y_test == 0] == -1).sum()} of 30 normal clips, "
      f"{(labels[y_test == 1] == -1).sum()} of 30 anomalous clips")

# %%
# ``predict`` uses the threshold learned in ``fit``: a clip is an anomaly when its anomaly
# score exceeds the mean plus ``threshold`` (k = 2 by default) standard deviations of the
# out-of-fold scores of the normal training clips (each scored by a fold network that did
# not train on it). The F1 score and the balanced
# accuracy measure those hard decisions; the AUC and the partial AUC measure the ranking
# and do not depend on k.
metrics = skaudio_ad.metrics
detector = model[-1]
print(f"trained {detector.n_epochs_} epochs, kept epoch {detector.best_epoch_}")
print(f"threshold: anomaly score > {-detector.offset_:.3f} "
      f"(= {detector.error_mean_:.3f} + {detector.threshold:g} x {detector.error_std_:.3f})")
print(f"ROC AUC             {metrics.anomaly_roc_auc(y_test, -scores):.3f}")
print(f"partial AUC (0.1)   {metrics.anomaly_partial_auc(y_test, -scores):.3f}")
# Labels are 1 = anomaly in every metric; predict says -1 for an anomaly.
print(f"F1 (anomaly class)  {metrics.anomaly_f1(y_test, labels == -1):.3f}")
print(f"balanced accuracy   {metrics.anomaly_balanced_accuracy(y_test, labels == -1):.3f}")

# %%
# See the scores
# --------------
#
# The anomaly scores of the test clips, with the decision threshold ``-offset_``: clips to
# its right are predicted anomalous.
fig = skaudio_ad.plotting.plot_score_distributions(
    {"test normal": -scores[y_test == 0], "test anomalous": -scores[y_test == 1]},
    threshold=-detector.offset_,
    bins=40,
    title="Synthetic fan, 6 dB SNR: anomaly scores of the test clips",
)
