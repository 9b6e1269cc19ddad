"""How well ``locate_anomalies`` finds planted anomalies, per smoothing length.

Normal synthetic fan clips (5 s, 16 kHz) get one planted event at a random time: a tone
burst, a band of noise, or an impact train ringing a resonance, 0.5-2.5 s long, at a random
frequency. For each smoothing length the script prints the mean intersection-over-union of
the located span with the true interval, the mean absolute start / end error, and how often
the reported band contains the planted frequency. Also the synthetic "rubbing" episodes of
``make_machine_sounds``. The default smoothing (``_locate.DEFAULT_SMOOTHING``) comes from
this table.

Usage::

    python benchmarks/locate.py [--n-test 60] [--epochs 20]
"""

import argparse

import numpy as np
from sklearn.pipeline import make_pipeline

from skaudio_ad import ConvAutoencoderDetector, MelSpectrogramTransformer, locate_anomalies
from skaudio_ad.datasets import make_machine_sounds

SR, DURATION = 16000, 5.0


def _plant(x, rng):
    n = len(x)
    length = rng.uniform(0.5, 2.5)
    start = rng.uniform(0, DURATION - length)
    freq = float(np.exp(rng.uniform(np.log(300), np.log(6000))))
    i0, i1 = int(start * SR), int((start + length) * SR)
    t = np.arange(i1 - i0) / SR
    kind = rng.choice(["tone", "noise", "impacts"])
    if kind == "tone":
        event = np.sin(2 * np.pi * freq * t)
    elif kind == "noise":
        spectrum = np.fft.rfft(rng.standard_normal(len(t)))
        f = np.fft.rfftfreq(len(t), 1 / SR)
        spectrum[np.abs(f - freq) > 0.15 * freq] = 0
        event = np.fft.irfft(spectrum, n=len(t))
    else:
        impulses = np.zeros(len(t))
        impulses[:: int(SR / rng.uniform(8, 30))] = 1.0
        ring = np.exp(-np.arange(int(0.02 * SR)) / (0.004 * SR)) * np.sin(
            2 * np.pi * freq * np.arange(int(0.02 * SR)) / SR)
        event = np.convolve(impulses, ring)[: len(t)]
    event *= 0.03 * rng.uniform(0.5, 1.5) / (np.std(event) + 1e-12)
    y = x.copy()
    y[i0:i1] += event.astype(np.float32)
    assert len(y) == n
    return y, start, start + length, freq


def _iou(a0, a1, b0, b1):
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    return inter / (max(a1, b1) - min(a0, b0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=40)
    parser.add_argument("--n-test", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()

    X, _ = make_machine_sounds(args.n_train, 0, duration=DURATION, random_state=0)
    model = make_pipeline(MelSpectrogramTransformer(),
                          ConvAutoencoderDetector(max_epochs=args.epochs, random_state=0))
    model.fit(X)

    rng = np.random.default_rng(1)
    normals, _ = make_machine_sounds(args.n_test, 0, duration=DURATION, random_state=2)
    planted = [_plant(x, rng) for x in normals]
    Xp = np.stack([p[0] for p in planted])
    Xr, _, meta = make_machine_sounds(0, 80, duration=DURATION, random_state=3,
                                      return_metadata=True)
    rub = np.flatnonzero((meta.anomaly_type == "rubbing") & (meta.severity > 0.3))
    detected = model.predict(Xp) == -1
    print(f"{len(planted)} planted events ({detected.sum()} detected by the clip threshold), "
          f"{len(rub)} rubbing episodes (severity > 0.3)")
    print("smoothing | planted: IoU (detected)  |start err| |end err|  band hit | rubbing: IoU")
    for smoothing in (0.0, 0.25, 0.5, 1.0, 1.5, 2.0):
        spans = locate_anomalies(model, Xp, smoothing=smoothing)
        iou = [_iou(s.start, s.end, p[1], p[2]) for s, p in zip(spans, planted, strict=True)]
        d0 = [abs(s.start - p[1]) for s, p in zip(spans, planted, strict=True)]
        d1 = [abs(s.end - p[2]) for s, p in zip(spans, planted, strict=True)]
        hit = [s.band_low * 0.85 <= p[3] <= s.band_high * 1.15
               for s, p in zip(spans, planted, strict=True)]
        rub_spans = locate_anomalies(model, Xr[rub], smoothing=smoothing)
        rub_iou = [_iou(s.start, s.end, meta.anomaly_start[i], meta.anomaly_end[i])
                   for s, i in zip(rub_spans, rub, strict=True)]
        iou = np.asarray(iou)
        print(f"{smoothing:7.2f} s | {np.mean(iou):12.2f} ({np.mean(iou[detected]):.2f}) "
              f"{np.mean(d0):10.2f} s "
              f"{np.mean(d1):8.2f} s {np.mean(hit):9.2f} | {np.mean(rub_iou):12.2f}",
              flush=True)


if __name__ == "__main__":
    main()
