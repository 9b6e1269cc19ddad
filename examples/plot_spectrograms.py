"""
=============================================
Spectrograms of normal and anomalous machines
=============================================

What the detector sees: log-mel spectrograms of one normal and one anomalous clip of each
machine type of :func:`~skaudio_ad.datasets.make_machine_sounds`, mixed with factory noise
at 6 dB signal-to-noise ratio (MIMII's easiest condition). Each pair shares one dB colour
scale.

Some faults are plain to see (a bearing's impacts, a squealing slide rail); others change
only the timing or the modulation of the sound and are hard to spot by eye, let alone from
the clip's average spectrum. That is why the detector models short patches of frames
rather than one spectrum per clip.
"""

# %%
# Draw clips and compute their spectrograms
# -----------------------------------------
#
# ``return_metadata=True`` also returns each clip's anomaly type and severity (0 = subtle,
# 1 = strong). We show the most severe of a few anomalous clips per machine.
import numpy as np

from skaudio_ad import MelSpectrogramTransformer
from skaudio_ad.datasets import make_machine_sounds
from skaudio_ad.plotting import plot_spectrograms

mel = MelSpectrogramTransformer(sr=16000, n_fft=1024, hop_length=512, n_mels=64)

for seed, machine in enumerate(["fan", "pump", "valve", "slider"]):
    X, y, meta = make_machine_sounds(
        1, 6, machine=machine, duration=4.0, snr_db=6.0, random_state=seed,
        return_metadata=True,
    )
    S = mel.fit_transform(X)  # (n_clips, n_mels, n_frames), dB
    i = 1 + int(np.argmax(meta.severity[1:]))
    print(f"{machine:>6}: anomalies drawn {sorted(set(meta.anomaly_type[1:].tolist()))}; "
          f"showing {meta.anomaly_type[i]} (severity {meta.severity[i]:.2f})")
    fig = plot_spectrograms(
        S[0], S[i], sr=mel.sr, hop_length=mel.hop_length,
        titles=(f"{machine}: normal",
                f"{machine}: {meta.anomaly_type[i]} (severity {meta.severity[i]:.2f})"),
    )

# %%
# Reading the figures
# -------------------
#
# Time runs left to right in seconds, frequency bottom to top on the mel scale (finer at
# low frequencies, like hearing). The fan and the pump are rotating machines: steady
# horizontal lines are the shaft and blade harmonics and the mains hum, and the broadband
# haze is flow noise and the factory. The valve clicks open and shut about once a second;
# the slider whines and clunks at each stroke. The factory background (other machines
# switching on and off, air hiss, distant impacts) is present in every clip, normal or not:
# a detector must learn to ignore it.
