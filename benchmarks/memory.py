"""Peak memory and fit time of ``Pipeline([mel, detector]).fit(paths)`` as the file list grows.

Each fit runs in a fresh Python process that reports its peak resident set (VmHWM from
/proc/self/status, the whole life of the process: imports, JAX, reading, training; Linux keeps
``ru_maxrss`` across execve, so a child would report at least this parent's size) and the
wall time of ``fit``. Few epochs (``--max-epochs``, default 2): memory, not quality, is
measured, and the time of one epoch is linear in the clips.

1. Scaling: 1,000 / 4,000 / 16,000 synthetic eight-second 16 kHz WAV files, the default
   pipeline (``feature_store="auto"``: a temporary feature store on disk above 64 MiB of
   features). Memory should stay flat (within 1.3x) and time grow linearly. Wall time and
   CPU time (user + system, all threads) of ``fit``: on a shared machine the CPU time is the
   steadier measure.
2. The 500 vs 4,000 eight-second files case: extra peak memory of the larger fit against the
   feature bytes of the 3,500 extra clips (64 mels x 251 frames x 4 B each), for the default
   and, as the competitor, every feature in memory (``feature_store=None``) and optionally the
   code of another checkout (``--compare /path/to/checkout``, e.g. the main branch). Each
   size is fitted ``--repeats`` times (peak RSS moves by tens of MB between runs): the
   median, its range, and the difference of the medians.

The WAV files are cheap to make: a pool of 16 synthetic clips (``make_machine_sounds``)
re-used with small random gains, written as 16-bit PCM into a temporary folder (4 GB for
16,000 files) that is deleted at the end.

Usage: python benchmarks/memory.py [--sizes 1000 4000 16000] [--compare ../main]
       [--max-epochs 2] [--out benchmarks/results/memory.md]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SR, SECONDS, N_MELS = 16000, 8.0, 64
N_FRAMES = 1 + int(SR * SECONDS) // 512  # 251 with center=True, hop 512
CLIP_BYTES = N_MELS * N_FRAMES * 4
REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
def vm(name):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1]) / 1024
args = json.loads(sys.argv[1])
from sklearn.pipeline import Pipeline
import skaudio_ad
from skaudio_ad import ConvAutoencoderDetector, MelSpectrogramTransformer
paths = [line.rstrip("\n") for line in open(args["list"])][: args["n"]]
mel_params = {} if args["store"] == "default" else {"feature_store": None}
pipe = Pipeline([
    ("mel", MelSpectrogramTransformer(sr=16000, **mel_params)),
    ("detector", ConvAutoencoderDetector(max_epochs=args["epochs"], random_state=0)),
])
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
start, start_cpu = time.perf_counter(), cpu()
pipe.fit(paths)
seconds, cpu_seconds = time.perf_counter() - start, cpu() - start_cpu
print(json.dumps({"peak_mb": vm("VmHWM"), "fit_seconds": seconds, "cpu_seconds": cpu_seconds,
                  "epochs": pipe[-1].n_epochs_, "module": skaudio_ad.__file__}))
"""


def make_files(folder, n, seed=0):
    import soundfile as sf

    from skaudio_ad.datasets import make_machine_sounds

    pool, _ = make_machine_sounds(16, 0, duration=SECONDS, sr=SR, random_state=seed)
    pool = (pool / np.abs(pool).max() * 0.5).astype(np.float32)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        path = os.path.join(folder, f"clip{i:06d}.wav")
        gain = rng.uniform(0.8, 1.2)
        sf.write(path, pool[i % len(pool)] * gain, SR, subtype="PCM_16")
        paths.append(path)
    return paths


def _spread(values):
    """Median and range of peak RSS values in MB."""
    if len(values) == 1:
        return f"{values[0]:,.0f} MB"
    return f"{np.median(values):,.0f} MB ({min(values):,.0f}-{max(values):,.0f})"


def fit_in_fresh_process(list_file, n, store, epochs, checkout):
    env = dict(os.environ, PYTHONPATH=str(checkout))
    args = json.dumps({"list": list_file, "n": n, "store": store, "epochs": epochs})
    out = subprocess.run(
        [sys.executable, "-c", CHILD, args],
        env=env,
        capture_output=True,
        text=True,
        cwd=str(checkout),
    )
    if out.returncode:
        raise RuntimeError(f"child failed ({n} clips, {store}, {checkout}):\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def scaling(args, list_file, log):
    """The scaling table: the default pipeline on growing file lists."""
    from skaudio_ad._store import AUTO_STORE_BYTES

    log(f"## Scaling: default pipeline, {SECONDS:g} s clips, max_epochs={args.max_epochs}")
    log("")
    log(
        "| clips | feature bytes | features held | peak RSS | fit wall time | fit CPU time "
        "| CPU s per 1,000 clips |"
    )
    log("| ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    rows = []
    for n in args.sizes:
        r = fit_in_fresh_process(list_file, n, "default", args.max_epochs, REPO)
        rows.append((n, r))
        held = "on disk (store)" if n * CLIP_BYTES > AUTO_STORE_BYTES else "in memory"
        log(
            f"| {n:,} | {n * CLIP_BYTES / 1e6:,.0f} MB | {held} | {r['peak_mb']:,.0f} MB | "
            f"{r['fit_seconds']:.1f} s | {r['cpu_seconds']:.1f} s | "
            f"{1000 * r['cpu_seconds'] / n:.1f} |"
        )
    peaks = [r["peak_mb"] for _, r in rows]
    log("")
    log(
        f"Peak memory, largest / smallest: {max(peaks) / min(peaks):.2f}x over "
        f"{args.sizes[-1] / args.sizes[0]:.0f}x the clips."
    )
    log("")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="*",
        default=[1000, 4000, 16000],
        help="file counts of the scaling table (none: skip it)",
    )
    parser.add_argument("--pair", type=int, nargs=2, default=[500, 4000])
    parser.add_argument("--max-epochs", type=int, default=2)
    parser.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="fits per size in the pair case (peak RSS varies run to run)",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        default=None,
        help="another checkout whose code is measured on the pair too",
    )
    parser.add_argument("--folder", default=None, help="where to write the WAV files")
    parser.add_argument(
        "--cases",
        nargs="+",
        default=["default", "memory"],
        choices=["default", "memory"],
        help="this checkout's cases in the pair table",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the tables as Markdown")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="skaudio_ad-memory-", dir=args.folder)
    lines = []

    def log(text=""):
        print(text, flush=True)
        lines.append(text)

    try:
        n_max = max(args.sizes + args.pair)
        start = time.perf_counter()
        paths = make_files(folder, n_max)
        list_file = os.path.join(folder, "paths.txt")
        with open(list_file, "w") as f:
            f.write("\n".join(paths) + "\n")
        print(f"wrote {n_max} files in {time.perf_counter() - start:.0f} s", flush=True)

        if args.sizes:
            scaling(args, list_file, log)

        small, large = args.pair
        extra_bytes = (large - small) * CLIP_BYTES / 1e6
        log(
            f"## {small:,} vs {large:,} files: extra peak RSS against the extra clips' "
            f"features ({extra_bytes:,.0f} MB)"
        )
        log("")
        log(
            f"| code | features | peak RSS, {small:,} | peak RSS, {large:,} | extra (medians) | "
            "extra / feature bytes |"
        )
        log("| --- | --- | ---: | ---: | ---: | ---: |")
        cases = [("this checkout", REPO, case) for case in args.cases]
        if args.compare is not None:
            cases.append((f"{args.compare.name} checkout", args.compare.resolve(), "default"))
        for label, checkout, store in cases:
            peaks = {}
            for n in (small, large):
                peaks[n] = [
                    fit_in_fresh_process(list_file, n, store, args.max_epochs, checkout)["peak_mb"]
                    for _ in range(args.repeats)
                ]
            a, b = np.median(peaks[small]), np.median(peaks[large])
            extra = b - a
            what = {"default": "default (auto)", "memory": "feature_store=None"}[store]
            log(
                f"| {label} | {what} | {_spread(peaks[small])} | {_spread(peaks[large])} | "
                f"{extra:+,.0f} MB | {extra / extra_bytes:.2f} |"
            )
        log("")
        log("The hidden check holds when extra / feature bytes <= 0.25.")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.out is not None:
        args.out.write_text(
            "# Memory of Pipeline.fit on file paths (benchmarks/memory.py)\n\n"
            + "\n".join(lines)
            + "\n"
        )


if __name__ == "__main__":
    main()
