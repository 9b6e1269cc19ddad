"""Feature speed: MelSpectrogramTransformer beside a per-clip librosa loop, same parameters.

Synthetic ten-second 16 kHz clips (2-4 tones, amplitude modulation and noise at a random
level, seeded). Times ``transform`` with ``n_jobs=1`` and ``n_jobs=-1`` (all cores) and
``librosa.power_to_db(librosa.feature.melspectrogram(...))`` clip by clip (with default BLAS
threads and with one), each ``--repeats`` times, interleaved so that load from other processes
hits all alike; the best time of each is kept. Prints clips/s of each, the speedups over the
faster librosa loop and the largest |dB difference| from librosa over all clips. CPU time
(all threads) is printed beside wall time: on a loaded machine wall time is noisy, and CPU
time per clip still compares the work done. The last line is ``speedup_vs_librosa=<float>``
(wall time, ``n_jobs=-1``).

Usage: python benchmarks/bench_features.py [--n-clips 1000] [--repeats 3] [--quick]
"""

import argparse
import os
import platform
import time

import librosa
import numpy as np
import scipy
import sklearn
from threadpoolctl import threadpool_limits

from skaudio_ad import MelSpectrogramTransformer

SR, SECONDS = 16000, 10.0
PARAMS = dict(sr=SR, n_fft=1024, hop_length=512, n_mels=64, power=2.0, top_db=None)


def synthetic_clips(n_clips, seed=0):
    """Noise plus a few amplitude-modulated tones per clip, float32 in about [-1, 1]."""
    rng = np.random.default_rng(seed)
    n = int(SR * SECONDS)
    t = np.arange(n, dtype=np.float64) / SR
    X = np.empty((n_clips, n), dtype=np.float32)
    for i in range(n_clips):
        y = rng.uniform(0.005, 0.1) * rng.standard_normal(n)
        for _ in range(rng.integers(2, 5)):
            f, a = rng.uniform(40, 6000), rng.uniform(0.02, 0.3)
            am = 1 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.1, 5) * t)
            y += a * am * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
        X[i] = y
    return X


def librosa_loop(X):
    out = np.empty((len(X), PARAMS["n_mels"], 1 + X.shape[1] // PARAMS["hop_length"]),
                   dtype=np.float32)
    for i, y in enumerate(X):
        S = librosa.feature.melspectrogram(
            y=y, sr=PARAMS["sr"], n_fft=PARAMS["n_fft"], hop_length=PARAMS["hop_length"],
            n_mels=PARAMS["n_mels"], power=PARAMS["power"],
        )
        out[i] = librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=PARAMS["top_db"])
    return out


def _librosa_loop_1_blas_thread(X):
    with threadpool_limits(limits=1, user_api="blas"):
        return librosa_loop(X)


def measure(X, repeats):
    """Best-of-``repeats`` timings of the transformer and the librosa loop on clips ``X``.

    Returns ``{method: {"seconds", "cpu_seconds", "max_db_diff"}}`` (wall and CPU time of the
    best repeat over all clips, largest |dB difference| from the default librosa loop).
    """
    methods = {
        "librosa loop": librosa_loop,
        "librosa, 1 BLAS thread": _librosa_loop_1_blas_thread,
        "transform n_jobs=1": MelSpectrogramTransformer(**PARAMS, n_jobs=1).transform,
        "transform n_jobs=-1": MelSpectrogramTransformer(**PARAMS, n_jobs=-1).transform,
    }
    for method in methods.values():  # warm-up: imports, FFT plans, mel basis caches
        method(X[:4])
    best = dict.fromkeys(methods, np.inf)
    cpu = dict.fromkeys(methods, np.inf)
    outputs = {}
    for _ in range(repeats):
        for name, method in methods.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            outputs[name] = method(X)
            best[name] = min(best[name], time.perf_counter() - start)
            cpu[name] = min(cpu[name], time.process_time() - start_cpu)
    reference = outputs["librosa loop"]
    return {
        name: {"seconds": best[name], "cpu_seconds": cpu[name],
               "max_db_diff": float(np.abs(outputs[name] - reference).max())}
        for name in methods
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-clips", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100 clips, 2 repeats")
    args = parser.parse_args()
    n_clips, repeats = (100, 2) if args.quick else (args.n_clips, args.repeats)

    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"librosa {librosa.__version__}, scikit-learn {sklearn.__version__}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"{n_clips} clips of {SECONDS:g} s at {SR} Hz; {PARAMS}")
    results = measure(synthetic_clips(n_clips), repeats)
    best = {name: r["seconds"] for name, r in results.items()}
    for name, r in results.items():
        print(f"{name:24s} {n_clips / r['seconds']:8.1f} clips/s  "
              f"({r['seconds'] / n_clips * 1e3:.3f} ms/clip wall, "
              f"{r['cpu_seconds'] / n_clips * 1e3:.3f} ms/clip CPU, best of {repeats})  "
              f"max |dB diff| vs librosa {r['max_db_diff']:.2e}")
    # Against the faster librosa variant: OpenBLAS's spinning threads slow the default
    # one badly when other processes load the cores.
    baseline = min(best["librosa loop"], best["librosa, 1 BLAS thread"])
    one = baseline / best["transform n_jobs=1"]
    speedup = baseline / best["transform n_jobs=-1"]
    print(f"speedup n_jobs=1: {one:.2f}x; n_jobs=-1: {speedup:.2f}x; "
          f"threads gained {best['transform n_jobs=1'] / best['transform n_jobs=-1']:.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"speedup_vs_librosa={speedup:.3f}")


if __name__ == "__main__":
    main()
