"""Fleet fit times: PerMachineDetector sequentially, with loky, and on local Dask clusters.

One fleet of synthetic machines (``make_machine_sounds``, one machine type per id, cycling
fan/pump/valve/slider with different seeds) is fitted with the default network and a fixed
number of epochs (no early stopping), under each layout:

- ``sequential``: ``n_jobs=None``, this process (XLA uses every core);
- ``loky n_jobs=2``: joblib's default backend, two spawned processes;
- ``dask W x 1``: a ``LocalCluster(n_workers=W, processes=True, threads_per_worker=1)``;
- ``dask 2 x 1, XLA 1 thread``: the same, each worker's XLA limited to one thread
  (``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``).

Every layout is measured cold (fresh processes: JAX import and compilation included, as a
user's first fit) and warm (a second fit in the same processes). The scores of every layout
are checked bitwise against the sequential fit. The load average is printed before and
after: other work on the machine inflates every figure.

With ``--paths`` the clips are written as float WAV files to a temporary folder and ``X`` is
the list of paths, as for a real fleet: the workers read the files instead of receiving
arrays through the scheduler.

Usage: python benchmarks/fleet.py [--machines 4] [--clips 32] [--duration 2] [--epochs 5]
[--paths]
"""

import argparse
import os
import platform
import tempfile
import time

import joblib
import numpy as np
from sklearn.pipeline import Pipeline

from skaudio_ad import ConvAutoencoderDetector, MelSpectrogramTransformer, PerMachineDetector
from skaudio_ad.datasets import make_machine_sounds

SINGLE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
TYPES = ("fan", "pump", "valve", "slider")


def make_fleet(n_machines, n_clips, duration):
    clips, ids = [], []
    for k in range(n_machines):
        X, _ = make_machine_sounds(n_clips, 0, machine=TYPES[k % 4], duration=duration,
                                   random_state=k)
        clips.append(X)
        ids += [f"id_{k:02d}"] * n_clips
    return np.concatenate(clips), np.asarray(ids)


def pipeline(epochs):
    detector = ConvAutoencoderDetector(max_epochs=epochs, patience=epochs, random_state=0)
    return Pipeline([("mel", MelSpectrogramTransformer()), ("detector", detector)])


def timed_fits(make_context, X, ids, epochs, n_jobs=None):
    """(cold seconds, warm seconds, fitted fleet) of two fits under ``make_context()``."""
    times = []
    with make_context():
        for _ in range(2):
            start = time.perf_counter()
            fleet = PerMachineDetector(pipeline(epochs), n_jobs=n_jobs).fit(X, machine_ids=ids)
            times.append(time.perf_counter() - start)
    return times[0], times[1], fleet


def dask_context(n_workers, env=None):
    from contextlib import contextmanager

    from distributed import Client, LocalCluster

    @contextmanager
    def context():
        with LocalCluster(n_workers=n_workers, processes=True, threads_per_worker=1,
                          dashboard_address=None, env=env or {}) as cluster, \
                Client(cluster), joblib.parallel_config(backend="dask"):
            yield

    return context


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=4)
    parser.add_argument("--clips", type=int, default=32, help="clips per machine")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per clip")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--paths", action="store_true", help="fit from WAV files")
    args = parser.parse_args()

    X, ids = make_fleet(args.machines, args.clips, args.duration)
    if args.paths:
        import soundfile as sf

        folder = tempfile.mkdtemp(prefix="fleet_bench_")
        paths = [os.path.join(folder, f"{m}_{i:04d}.wav") for i, m in enumerate(ids)]
        for path, clip in zip(paths, X, strict=True):
            sf.write(path, clip, 16000, subtype="FLOAT")
        X = paths
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{args.machines} machines x {args.clips} clips of {args.duration:g} s, "
          f"{args.epochs} epochs, default network, X as {'paths' if args.paths else 'arrays'}")
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)

    from contextlib import nullcontext

    layouts = [
        ("sequential", nullcontext, None),
        ("loky n_jobs=2", nullcontext, 2),
        ("dask 1 x 1", dask_context(1), None),
        ("dask 2 x 1", dask_context(2), None),
        ("dask 2 x 1, XLA 1 thread", dask_context(2, {"XLA_FLAGS": SINGLE_THREAD_XLA}), None),
    ]
    rows, reference = [], None
    for name, context, n_jobs in layouts:
        cold, warm, fleet = timed_fits(context, X, ids, args.epochs, n_jobs=n_jobs)
        scores = fleet.score_samples(X, machine_ids=ids)
        if reference is None:
            reference = scores
        same = "yes" if np.array_equal(scores, reference) else (
            f"no (max diff {np.max(np.abs(scores - reference)):.2g})")
        rows.append((name, cold, warm, same))
        print(f"  {name}: cold {cold:.1f} s, warm {warm:.1f} s, same scores: {same}",
              flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}\n")
    print("| layout | cold fit (s) | warm fit (s) | warm vs sequential | bitwise same |")
    print("| --- | --- | --- | --- | --- |")
    for name, cold, warm, same in rows:
        print(f"| {name} | {cold:.1f} | {warm:.1f} | {rows[0][2] / warm:.2f}x | {same} |")


if __name__ == "__main__":
    main()
