"""Throughput of ``skaudio-ad monitor`` on one CPU core: windows per second, real-time factor.

Pins the process to one core before JAX starts, trains a model with the command line's
default network (10 s clips at 16 kHz; two epochs: speed does not depend on the weights),
then streams a 10-minute synthetic recording through :class:`StreamMonitor`:

- *fast*: fed as ``monitor FILE`` reads a file (32 hops per block);
- *live*: fed one hop at a time, as stdin or a microphone arrives.

The real-time factor is processing time / audio time (below 1 keeps up; 0.01 is 100x
faster than real time). Also the same for a 1 s / 8 kHz model with a 0.25 s hop.

Usage::

    python benchmarks/monitor.py [--minutes 10]
"""

import argparse
import os
import time

if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

from sklearn.pipeline import make_pipeline  # noqa: E402

from skaudio_ad import ConvAutoencoderDetector, MelSpectrogramTransformer  # noqa: E402
from skaudio_ad._monitor import StreamMonitor  # noqa: E402
from skaudio_ad.datasets import make_machine_sounds  # noqa: E402


def _measure(model, stream, hop, block_hops):
    monitor = StreamMonitor(model, hop=hop, min_windows=2, min_normal_windows=2)
    block = hop * block_hops
    monitor.feed(stream[: model[0].n_features_in_, None])  # compile outside the timing
    monitor = StreamMonitor(model, hop=hop, min_windows=2, min_normal_windows=2)
    start = time.perf_counter()
    for lo in range(0, len(stream), block):
        monitor.feed(stream[lo : lo + block, None])
    monitor.finish()
    seconds = time.perf_counter() - start
    return monitor.n_windows, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    if hasattr(os, "sched_getaffinity"):
        print(f"pinned to CPU {sorted(os.sched_getaffinity(0))}")
    cases = [
        ("10 s clips, 16 kHz, default network, hop 1 s", 16000, 10.0, 1.0,
         dict(), dict()),
        ("1 s clips, 8 kHz, small network, hop 0.25 s", 8000, 1.0, 0.25,
         dict(n_fft=256, hop_length=128, n_mels=32),
         dict(patch_frames=16, hidden_channels=16, latent_dim=8)),
    ]
    for title, sr, clip, hop_s, mel_kw, det_kw in cases:
        X, _ = make_machine_sounds(8, 0, duration=clip, sr=sr, random_state=0)
        model = make_pipeline(
            MelSpectrogramTransformer(sr=sr, **mel_kw),
            ConvAutoencoderDetector(max_epochs=2, validation_fraction=0.0, random_state=0,
                                    **det_kw)).fit(X)
        minutes = args.minutes
        stream = make_machine_sounds(1, 0, duration=60.0 * minutes, sr=sr,
                                     random_state=1)[0][0]
        hop = round(hop_s * sr)
        print(f"\n{title}, {minutes:g} min of audio")
        for name, block_hops in (("fast (file)", 32), ("live (one hop per read)", 1)):
            n, seconds = _measure(model, stream, hop, block_hops)
            print(f"  {name:<24} {n} windows in {seconds:6.2f} s: {n / seconds:8.1f} windows/s,"
                  f" real-time factor {seconds / (60 * minutes):.4f} "
                  f"({60 * minutes / seconds:.0f}x real time)", flush=True)


if __name__ == "__main__":
    main()
