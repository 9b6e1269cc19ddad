"""
================================
Locating an anomaly in time
================================

A clip's anomaly score is the mean of its per-frame reconstruction errors.
:meth:`~skaudio_ad.ConvAutoencoderDetector.frame_errors` returns the errors before that
mean, one per spectrogram frame, and so tells *when* a clip sounds wrong.

Here the fan's "rubbing" fault (a rotor touching its casing) lasts for only part of each
clip, and :func:`~skaudio_ad.datasets.make_machine_sounds` reports when
(``return_metadata=True``): we can check that the frame errors rise inside the true
interval and stay low outside it.
"""

# %%
# Fit on normal fan sounds
# ------------------------
#
# Patches of 16 frames (0.5 s) instead of the default 32 give finer time resolution: a
# frame's error is the average over the patches that cover it, so the error curve is
# smoothed over about one patch length.
import matplotlib.pyplot as plt
import numpy as np
from scipy.ndimage import uniform_filter1d

from skaudio_ad import ConvAutoencoderDetector, MelSpectrogramTransformer
from skaudio_ad.datasets import make_machine_sounds
from skaudio_ad.plotting import plot_frame_errors

duration = 6.0
mel = MelSpectrogramTransformer()
X_train, _ = make_machine_sounds(60, 0, machine="fan", duration=duration, random_state=0)
S_train = mel.fit_transform(X_train)
detector = ConvAutoencoderDetector(patch_frames=16, max_epochs=40, validation_fraction=0.2,
                                   random_state=0)
detector.fit(S_train)

# %%
# Anomalous clips whose fault comes and goes
# ------------------------------------------
#
# Keep the "rubbing" clips among freshly drawn anomalies, strongest first.
X, _, meta = make_machine_sounds(0, 40, machine="fan", duration=duration, random_state=1,
                                 return_metadata=True)
rubbing = np.flatnonzero(meta.anomaly_type == "rubbing")
rubbing = rubbing[np.argsort(-meta.severity[rubbing])][:6]
S = mel.transform(X[rubbing])
errors = detector.frame_errors(S)  # (n_clips, n_frames): higher = more anomalous
spans = np.column_stack([meta.anomaly_start[rubbing], meta.anomaly_end[rubbing]])
for row, (start, end) in zip(rubbing, spans, strict=True):
    print(f"clip {row:2d}: rubbing from {start:.2f} s to {end:.2f} s, "
          f"severity {meta.severity[row]:.2f}")

# %%
# One clip in detail
# ------------------
#
# The spectrogram on top, its frame errors below with the true interval shaded. The
# threshold line belongs to the clip's *mean* error (the verdict of ``predict``); it is
# drawn for scale, not as a per-frame rule.
fig = plot_frame_errors(
    S[0], errors[0], sr=mel.sr, hop_length=mel.hop_length, threshold=-detector.offset_,
    spans=[tuple(spans[0])], spans_label="true rubbing interval",
    title=f"Fan, rubbing (severity {meta.severity[rubbing[0]]:.2f})",
)

# %%
# Several clips as a heat map
# ---------------------------
#
# One row per clip, the frame error in colour, the true interval between the white marks.
#
# To flag frames rather than whole clips, compare each frame's error with the frame errors
# of normal clips. Single frames are noisy (and the overlap of the patches leaves a ripple
# with a period of half a patch), so smooth both over one patch length first; then flag
# the frames above the 99th percentile of the smoothed errors of the held-out normal
# validation clips.


def smooth(frame_errors):
    return uniform_filter1d(frame_errors, size=detector.patch_frames_, axis=1, mode="nearest")


normal_frames = smooth(detector.frame_errors(S_train[detector.validation_indices_]))
frame_threshold = np.quantile(normal_frames, 0.99)

seconds = S.shape[2] * mel.hop_length / mel.sr
fig, (ax_map, ax_flag) = plt.subplots(
    2, 1, figsize=(9, 6), sharex=True, layout="constrained",
    gridspec_kw={"height_ratios": (1, 1)},
)
image = ax_map.imshow(errors, aspect="auto", cmap="viridis", interpolation="nearest",
                      extent=(0, seconds, len(rubbing) - 0.5, -0.5),
                      vmin=0, vmax=np.quantile(errors, 0.99))
fig.colorbar(image, ax=ax_map, label="frame error")
flagged = smooth(errors) > frame_threshold
ax_flag.imshow(flagged, aspect="auto", cmap="Greys", interpolation="nearest",
               extent=(0, seconds, len(rubbing) - 0.5, -0.5), vmin=0, vmax=1.5)
for ax in (ax_map, ax_flag):
    for row, (start, end) in enumerate(spans):
        ax.plot([start, end], [row, row], color="white" if ax is ax_map else "C3", lw=1.5,
                marker="|", ms=14, mew=2)
    ax.set_yticks(range(len(rubbing)), [f"clip {r}" for r in rubbing])
ax_map.set_title("Frame errors of the rubbing clips; marks: true fault interval")
ax_flag.set_title(f"Flagged frames: smoothed error above the 99th percentile of normal "
                  f"clips ({frame_threshold:.2f}); red: true interval")
ax_flag.set_xlabel("time (s)")

# %%
# How well do flagged frames match the true intervals?
# ----------------------------------------------------
#
# The share of flagged frames inside and outside the true interval, per clip.
t = (np.arange(S.shape[2]) + 0.5) * mel.hop_length / mel.sr
for row, (start, end), flags in zip(rubbing, spans, flagged, strict=True):
    inside = (t >= start) & (t <= end)
    print(f"clip {row:2d}: {flags[inside].mean():4.0%} of the frames inside flagged, "
          f"{flags[~inside].mean():4.0%} outside")

# %%
# The few frames flagged at the very start of some clips are an edge effect: the first
# frames of a spectrogram (half-padded with zeros by ``center=True``) and the first patch
# reconstruct a little worse. Ignore a patch length at each end when flagging.
#
# The errors are smoothed over about one patch (0.5 s here), so the edges of an interval
# are found to within a few tenths of a second, and a faint fault (low severity) may not
# rise above the normal frames at all. Smaller ``patch_frames`` sharpen the
# curve; larger ones give the network more context to tell a fault from background noise.
