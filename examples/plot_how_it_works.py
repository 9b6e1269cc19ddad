"""
========================
How the detector decides
========================

The path from a recording to a verdict, drawn for one anomalous clip:

1. :class:`~skaudio_ad.MelSpectrogramTransformer` turns the waveform into a log-mel
   spectrogram (64 mel bands x one frame every 32 ms).
2. :class:`~skaudio_ad.ConvAutoencoderDetector` cuts it into overlapping patches of
   ``patch_frames`` frames (half a patch apart) and reconstructs each patch through a small
   bottleneck. It was trained on normal clips only, so it reconstructs normal sound well.
3. Each frame's reconstruction error, averaged over the patches that cover it, is
   :meth:`~skaudio_ad.ConvAutoencoderDetector.frame_errors`; with
   ``evidence="reconstruction"``, drawn here, the clip's anomaly score is the mean frame
   error and ``score_samples`` is its negative. The default, ``evidence="profile"``, adds
   a second evidence to it (the distance of the clip's per-band error profile to those of
   normal clips, both standardised out of fold; :ref:`how_it_works`), and makes the normal
   clips' scores close to Gaussian by a strictly increasing map (``score_transform``; drawn
   here without it, so that the score stays the mean frame error).
4. The clip is an anomaly when its score exceeds ``mean + k * std`` of the *out-of-fold*
   scores of the normal training clips: each clip scored by a fold network that never saw
   it (``threshold=k``, 2 by default).

The :ref:`user guide <how_it_works>` explains each step; this script draws them.
"""

# %%
# Fit a detector on normal fan sounds
# -----------------------------------
import matplotlib.pyplot as plt
import numpy as np

from skaudio_ad import ConvAutoencoderDetector, MelSpectrogramTransformer
from skaudio_ad.datasets import make_machine_sounds

mel = MelSpectrogramTransformer()  # sr=16000, n_fft=1024, hop_length=512, n_mels=64
X_train, _ = make_machine_sounds(80, 0, machine="fan", duration=4.0, random_state=0)
X_test, y_test, meta = make_machine_sounds(
    20, 20, machine="fan", duration=4.0, random_state=1, return_metadata=True
)
S_train = mel.fit_transform(X_train)  # (80, 64, 126): clips, mel bands, frames
S_test = mel.transform(X_test)

# The reconstruction evidence alone, so that the clip score is the mean frame error.
detector = ConvAutoencoderDetector(
    max_epochs=40, evidence="reconstruction", score_transform=None, random_state=0
)
detector.fit(S_train)
print(f"spectrograms: {S_train.shape}; patches of {detector.patch_frames_} frames; "
      f"threshold calibrated on {detector.n_calibration_clips_} out-of-fold scores")

# %%
# From spectrogram to clip score
# ------------------------------
#
# Top: the spectrogram of the test clip with the highest anomaly score, and the patches the
# detector scores (bars above it; each is reconstructed on its own, and they overlap by
# half). Bottom: the per-frame error and its mean, the clip's anomaly score.
errors = detector.frame_errors(S_test)  # (n_clips, n_frames)
clip_score = errors.mean(axis=1)  # == -detector.score_samples(S_test)
assert np.allclose(clip_score, -detector.score_samples(S_test))

i = int(np.argmax(clip_score))
n_frames, patch, hop = S_test.shape[2], detector.patch_frames_, detector.patch_frames_ // 2
starts = list(range(0, n_frames - patch + 1, hop))
if starts[-1] != n_frames - patch:  # the last patch ends with the clip
    starts.append(n_frames - patch)
seconds_per_frame = mel.hop_length / mel.sr
t = np.arange(n_frames) * seconds_per_frame

fig, (ax_patch, ax_spec, ax_err) = plt.subplots(
    3, 1, figsize=(9, 7), sharex=True, layout="constrained",
    gridspec_kw={"height_ratios": (1.2, 3, 2)},
)
for j, start in enumerate(starts):
    ax_patch.plot(np.array([start + 0.5, start + patch - 0.5]) * seconds_per_frame, [-j, -j],
                  lw=4, solid_capstyle="butt", color=f"C{j % 2}")
ax_patch.set_ylim(-len(starts), 1)
ax_patch.set_yticks([])
ax_patch.set_title(f"{len(starts)} patches of {patch} frames "
                   f"({patch * seconds_per_frame:.2f} s), hop {hop} frames")
ax_spec.imshow(S_test[i], origin="lower", aspect="auto", cmap="magma",
               extent=(0, n_frames * seconds_per_frame, 0, S_test.shape[1]))
ax_spec.set_ylabel("mel band")
ax_spec.set_title(f"log-mel spectrogram, test clip {i} "
                  f"({meta.anomaly_type[i]}, severity {meta.severity[i]:.2f})")
ax_err.plot(t, errors[i], label="frame error")
ax_err.axhline(clip_score[i], ls=":", color="C0",
               label=f"clip anomaly score = mean = {clip_score[i]:.2f}")
ax_err.axhline(-detector.offset_, ls="--", color="k",
               label=f"threshold -offset_ = {-detector.offset_:.2f}")
ax_err.set_xlabel("time (s)")
ax_err.set_ylabel("squared error\n(standardised dB)")
ax_err.legend(loc="upper right", fontsize="small")
ax_err.set_ylim(0, None)

# %%
# From clip scores to a verdict
# -----------------------------
#
# The threshold comes from the out-of-fold anomaly scores of the normal training clips
# (``n_folds`` networks, each trained without one fold, score the clips they never saw):
# their mean is ``error_mean_``, their standard deviation ``error_std_``, and a clip is an
# anomaly when its score exceeds
# ``error_mean_ + k * error_std_``. ``offset_`` is minus that value, so
# ``decision_function = score_samples - offset_`` is negative exactly for the anomalies.
train_score = -detector.score_samples(S_train)  # in-sample: optimistic, not used
print(f"error_mean_ = {detector.error_mean_:.3f} (out of fold; the in-sample mean "
      f"{train_score.mean():.3f} is lower: a network scores its own training clips well)")
print(f"error_std_  = {detector.error_std_:.3f}, threshold k = {detector.threshold:g}")
print(f"offset_     = {detector.offset_:.3f} = -(error_mean_ + k * error_std_)")

rows = {"training normal\n(in-sample)": train_score,
        "test normal": clip_score[y_test == 0],
        "test anomalous": clip_score[y_test == 1]}
rng = np.random.default_rng(0)
fig, ax = plt.subplots(figsize=(9, 3.4), layout="constrained")
for row, values in enumerate(rows.values()):
    ax.plot(values, row + rng.uniform(-0.15, 0.15, len(values)), "o", alpha=0.7,
            color=["0.4", "C0", "C3"][row])
for k, style in [(1, ":"), (2, "--"), (3, "-.")]:
    ax.axvline(detector.error_mean_ + k * detector.error_std_, color="k", ls=style, lw=1,
               label=f"mean + {k} std" + (" (threshold=2, the default)" if k == 2 else ""))
ax.axvline(detector.error_mean_, color="0.6", lw=1, label="mean")
ax.set_yticks(range(len(rows)), list(rows))
ax.set_ylim(-0.6, len(rows) - 0.4)
ax.set_xlabel("anomaly score = -score_samples (mean frame error; higher = more anomalous)")
ax.legend(loc="lower right", fontsize="small")
ax.set_title("Clips to the right of the threshold are predicted anomalous (-1)")

# %%
# Every training clip calibrates the threshold out of fold, so no clip is lost to a
# hold-out; still check the false alarm rate on normal clips that played no part in
# training, as here.
pred = detector.predict(S_test)
print(f"false alarms: {np.sum(pred[y_test == 0] == -1)} of {np.sum(y_test == 0)} normal "
      f"test clips; detected: {np.sum(pred[y_test == 1] == -1)} of {np.sum(y_test == 1)} "
      "anomalous ones")
