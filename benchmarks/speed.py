"""Speed and memory of skaudio_ad in one run, every figure beside its reference.

Run once on a quiet machine; it prints each section as it goes and writes Markdown:

1. Features: ``MelSpectrogramTransformer`` beside a per-clip librosa loop
   (``bench_features.measure``; ten-second synthetic clips, best of N, interleaved).
2. Training: one network of ``ConvAutoencoderDetector`` (``n_folds=1``) beside the same
   network in PyTorch eager (``bench_training.bench_epochs``; same weights, batches and
   optimizer), PyTorch with all its threads and with one (the faster is the reference); and
   the default's epoch (the full network and 5 fold networks), trained one after the other
   (the CPU path) and in one vmapped step (other backends), alternated.
3. Scoring throughput, features included, ten-second clips/s: ``Pipeline.score_samples``
   beside librosa (one BLAS thread, its faster variant) + the same network in PyTorch eager
   with the same patches and weights (which computes the reconstruction error only, not the
   default's kNN evidences and score transform); the reconstruction errors are compared.
4. Peak memory: ``bench_training.bench_pipeline`` (the default pipeline fitted on 1,000
   ten-second clips) in a fresh Python process, which reports its RSS before the fit and its
   peak during the fit (VmHWM, restarted before the fit; ``ru_maxrss`` would include this
   parent's size, as Linux keeps it across execve).
5. Scaling: features, training (a fixed number of epochs, no early stopping) and scoring
   time for 250, 500, 1,000 and 2,000 ten-second clips, with seconds per clip. Waveforms are
   made chunk by chunk (a pool of ``make_machine_sounds`` clips, circularly shifted at random
   per chunk) and only the log-mel features are kept: 2,000 clips hold 160 MB of features
   instead of 1.3 GB of waveforms.

Usage: python benchmarks/speed.py [--quick] [--out benchmarks/results/speed.md]
``--quick`` is a smoke run with tenfold smaller sizes (written to ``speed_quick.md``).
Needs the ``bench`` extra (torch, psutil).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import bench_features  # noqa: E402
import bench_training  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from skaudio_ad import ConvAutoencoderDetector, MelSpectrogramTransformer  # noqa: E402
from skaudio_ad import _training as core  # noqa: E402
from skaudio_ad.datasets import make_machine_sounds  # noqa: E402

SR, SECONDS = 16000, 10.0
FULL = {"feature_clips": 1000, "feature_repeats": 3, "train_clips": 256, "train_epochs": 5,
        "score_clips": 1000, "pipeline_clips": 1000, "pipeline_max_epochs": 100,
        "scaling": [250, 500, 1000, 2000], "scaling_epochs": 5, "pool": 250}
QUICK = {"feature_clips": 100, "feature_repeats": 2, "train_clips": 64, "train_epochs": 3,
         "score_clips": 100, "pipeline_clips": 100, "pipeline_max_epochs": 3,
         "scaling": [25, 50, 100, 200], "scaling_epochs": 2, "pool": 25}


def log(text=""):
    print(text, flush=True)


# --------------------------------------------------------------------------- machine
def machine_description():
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = float("nan")
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram_gb = int(line.split()[1]) / 1024**2
    except OSError:
        pass
    import flax
    import jax
    import jaxlib
    import librosa
    import optax
    import scipy
    import sklearn

    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "scipy": scipy.__version__, "scikit-learn": sklearn.__version__,
                "librosa": librosa.__version__, "jax": jax.__version__,
                "jaxlib": jaxlib.__version__, "flax": flax.__version__,
                "optax": optax.__version__, "torch": torch.__version__}
    return {"cpu": cpu, "cores": os.cpu_count(),
            "usable cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count(),
            "RAM": f"{ram_gb:.1f} GB", "jax backend": jax.default_backend(),
            "torch threads": torch.get_num_threads(), **versions}


# --------------------------------------------------------------------------- sections
def features_section(cfg):
    n, repeats = cfg["feature_clips"], cfg["feature_repeats"]
    results = bench_features.measure(bench_features.synthetic_clips(n), repeats)
    reference = min(results["librosa loop"]["seconds"],
                    results["librosa, 1 BLAS thread"]["seconds"])
    rows = []
    for name, r in results.items():
        rows.append([name, f"{n / r['seconds']:.0f}", f"{r['seconds'] / n * 1e3:.2f}",
                     f"{r['cpu_seconds'] / n * 1e3:.2f}", f"{reference / r['seconds']:.2f}x",
                     f"{r['max_db_diff']:.1e}"])
    header = ["method", "clips/s", "ms/clip wall", "ms/clip CPU",
              "speed vs faster librosa loop", "max dB diff vs librosa"]
    intro = (f"{n} synthetic ten-second 16 kHz clips, {bench_features.PARAMS}; best of "
             f"{repeats} interleaved repeats.")
    summary = ("features: " + ", ".join(
        f"{name} {reference / results[name]['seconds']:.2f}x"
        for name in ("transform n_jobs=1", "transform n_jobs=-1"))
        + " the faster librosa loop's speed")
    return intro, header, rows, summary


def training_section(cfg):
    n, epochs = cfg["train_clips"], cfg["train_epochs"]
    threads = torch.get_num_threads()
    runs = {}
    # PyTorch with all its threads and with one: OpenMP threads collapse (measured 40-60x
    # slower epochs) when another process holds a core, so the faster one is the reference,
    # as bench_features takes the faster librosa loop.
    for t in dict.fromkeys((threads, 1)):
        torch.set_num_threads(t)
        try:
            runs[t] = bench_training.bench_epochs(n, epochs)
        finally:
            torch.set_num_threads(threads)
    # Epoch 1 of JAX includes compilation; both are timed on the epochs after it.
    jax_s = min(float(np.median(r[0][1:])) for r in runs.values())
    torch_s = {t: float(np.median(r[1][1:])) for t, r in runs.items()}
    reference = min(torch_s.values())
    _, _, n_patches, max_diff = runs[threads]
    # The default's six networks as they train here (on CPU: member after member) and in one
    # vmapped step (the path of other backends), alternated so that load hits both alike.
    default = {True: [], False: []}
    for _ in range(2):
        for in_turn in default:
            default[in_turn] += bench_training.jax_epochs(n, epochs, in_turn=in_turn)[1:]
    default_s, vmapped_s = (float(np.median(default[v])) for v in (True, False))
    header = ["implementation", "s/epoch (median of epochs 2+)", "patches/s",
              "speed vs faster PyTorch"]
    rows = [["skaudio_ad, one network (JAX, jitted; best of the runs)", f"{jax_s:.3f}",
             f"{n_patches / jax_s:,.0f}", f"{reference / jax_s:.2f}x"],
            ["skaudio_ad default: full + 5 fold networks, one after the other (CPU path)",
             f"{default_s:.3f}", f"{n_patches / default_s:,.0f}", f"{reference / default_s:.2f}x"],
            ["the same six networks in one vmapped step (the path of other backends)",
             f"{vmapped_s:.3f}", f"{n_patches / vmapped_s:,.0f}", f"{reference / vmapped_s:.2f}x"]]
    rows += [[f"same network, PyTorch eager, {t} thread{'s' * (t > 1)}", f"{v:.3f}",
              f"{n_patches / v:,.0f}", f"{reference / v:.2f}x"] for t, v in torch_s.items()]
    intro = (f"{n} clips of 313 frames, {n_patches} patches per epoch, {epochs} epochs, "
             f"`bench_training.bench_epochs` run once per PyTorch thread count; first JAX epoch "
             f"incl. compilation {runs[threads][0][0]:.2f} s; same-network check: max "
             f"|jax - torch| forward output {max_diff:.1e}.")
    summary = (f"training: one network in JAX at {reference / jax_s:.2f}x the faster PyTorch "
               f"eager's speed; the default's 6 networks at {reference / default_s:.2f}x "
               f"in turn, {reference / vmapped_s:.2f}x vmapped")
    return intro, header, rows, summary


def _torch_scores(X, detector):
    """Reference scoring: librosa features (1 BLAS thread) + the network in PyTorch eager."""
    S = bench_features._librosa_loop_1_blas_thread(X)
    Z = ((S.transpose(0, 2, 1) - detector.feature_mean_) / detector.feature_scale_)
    Z = Z.astype(np.float32)
    n_clips, n_frames, _ = Z.shape
    T = detector.patch_frames_
    starts = core.patch_starts(n_frames, T, max(1, T // 2))
    window = starts[:, None] + np.arange(T)
    coverage = np.zeros(n_frames)
    for s in starts:
        coverage[s : s + T] += 1
    net = bench_training.TorchConvAutoencoder1d(detector._config)
    net.load_flax(detector.params_)
    net.eval()
    out = np.empty(n_clips)
    per_call = max(1, core.INFERENCE_BATCH // len(starts))
    with torch.no_grad():
        for lo in range(0, n_clips, per_call):
            chunk = Z[lo : lo + per_call]
            patches = torch.from_numpy(
                np.ascontiguousarray(chunk[:, window].reshape(-1, T, Z.shape[2])
                                     .transpose(0, 2, 1)))
            errors = ((net(patches) - patches) ** 2).mean(dim=1).numpy()
            errors = errors.reshape(len(chunk), len(starts), T)
            sums = np.zeros((len(chunk), n_frames))
            for j, s in enumerate(starts):
                sums[:, s : s + T] += errors[:, j]
            out[lo : lo + len(chunk)] = -(sums / coverage).mean(axis=1)
    return out


def scoring_section(cfg):
    from sklearn.pipeline import Pipeline

    n = cfg["score_clips"]
    X = _clips(n, cfg["pool"], seed=1)
    # Scoring speed does not depend on how well the network learned: 3 epochs on 200 clips.
    pipe = Pipeline([("mel", MelSpectrogramTransformer()),
                     ("detector", ConvAutoencoderDetector(max_epochs=3, random_state=0))])
    pipe.fit(X[: min(n, 200)])
    detector = pipe[-1]
    pipe.score_samples(X[:16])  # warm-up: compile the inference step
    _torch_scores(X[:16], detector)
    threads = torch.get_num_threads()
    ours = np.inf
    torch_s = dict.fromkeys(dict.fromkeys((threads, 1)), np.inf)
    for _ in range(2):  # interleaved, best of 2
        start = time.perf_counter()
        pipe.score_samples(X)
        ours = min(ours, time.perf_counter() - start)
        for t in torch_s:
            torch.set_num_threads(t)
            try:
                start = time.perf_counter()
                torch_scores = _torch_scores(X, detector)
                torch_s[t] = min(torch_s[t], time.perf_counter() - start)
            finally:
                torch.set_num_threads(threads)
    reference = min(torch_s.values())
    # The reference computes the reconstruction error only; the default's score adds the kNN
    # evidences and the score transform (timed above), so the check is on the errors.
    errors = -detector.frame_errors(pipe[0].transform(X)).mean(axis=1)
    diff = float(np.max(np.abs(errors - torch_scores) / np.abs(torch_scores)))
    header = ["implementation", "clips/s", "ms/clip", "speed vs faster reference"]
    rows = [["Pipeline(mel, detector).score_samples", f"{n / ours:.0f}",
             f"{ours / n * 1e3:.2f}", f"{reference / ours:.2f}x"]]
    rows += [[f"librosa loop (1 BLAS thread) + PyTorch eager, {t} thread{'s' * (t > 1)}",
              f"{n / v:.0f}", f"{v / n * 1e3:.2f}", f"{reference / v:.2f}x"]
             for t, v in torch_s.items()]
    intro = (f"{n} ten-second clips in memory, best of 2 interleaved. Ours computes the "
             "default's whole score (reconstruction error, kNN evidences, score transform), "
             "the reference the reconstruction error only; max relative difference of the "
             f"reconstruction errors {diff:.1e}.")
    summary = (f"scoring: {n / ours:.0f} ten-second clips/s, features included, "
               f"{reference / ours:.2f}x librosa + PyTorch eager")
    return intro, header, rows, summary


def memory_section(cfg):
    n, max_epochs = cfg["pipeline_clips"], cfg["pipeline_max_epochs"]
    code = (f"import json, sys; sys.path.insert(0, {str(HERE)!r}); import bench_training; "
            f"print(json.dumps(bench_training.bench_pipeline({n}, max_epochs={max_epochs})))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the memory child process failed:\n{done.stderr}")
    r = json.loads(done.stdout.strip().splitlines()[-1])
    waveforms_gb = n * SR * SECONDS * 4 / 1024**3
    features_gb = n * 64 * 313 * 4 / 1024**3
    header = ["figure", "value", "reference"]
    scope = ("peak restarted before the fit" if r["fit_peak_isolated"] else
             "process peak: includes the data generation")
    rows = [
        ["peak RSS during Pipeline.fit", f"{r['peak_rss_fit_gb']:.2f} GB",
         f"waveforms {waveforms_gb:.2f} GB + features {features_gb:.2f} GB ({scope})"],
        ["RSS just before the fit (imports + waveforms)", f"{r['rss_before_fit_gb']:.2f} GB",
         f"peak before the fit {r['peak_rss_before_fit_gb']:.2f} GB (data generation)"],
        ["added by the fit at its peak",
         f"{r['peak_rss_fit_gb'] - r['rss_before_fit_gb']:.2f} GB", ""],
        ["fit time", f"{r['fit_seconds']:.1f} s ({r['n_epochs']} epochs, the default budget)",
         f"{r['fit_seconds'] / n * 1e3:.1f} ms per clip"],
        ["scoring in the same process", f"{r['score_rate']:.0f} clips/s", ""],
    ]
    intro = (f"`bench_training.bench_pipeline({n}, max_epochs={max_epochs})` in a fresh Python "
             "process: the default pipeline fitted on synthetic ten-second fan clips. Peaks are "
             "the child's VmHWM (/proc/self/status): `getrusage(RUSAGE_SELF).ru_maxrss` "
             "survives execve and would report at least this parent's size.")
    summary = (f"memory: peak RSS {r['peak_rss_fit_gb']:.2f} GB during a {n}-clip "
               f"Pipeline.fit ({r['fit_seconds']:.0f} s, {r['n_epochs']} epochs)")
    return intro, header, rows, summary


def _clips(n, pool_size, seed):
    """``n`` ten-second clips: a pool of machine sounds, circularly shifted at random."""
    pool, _ = make_machine_sounds(min(n, pool_size), 0, machine="fan", random_state=seed)
    rng = np.random.default_rng(seed)
    rows = [np.roll(pool[i % len(pool)], rng.integers(pool.shape[1])) for i in range(n)]
    return np.stack(rows)


def scaling_section(cfg):
    pool, _ = make_machine_sounds(cfg["pool"], 0, machine="fan", random_state=2)
    rng = np.random.default_rng(2)
    mel = MelSpectrogramTransformer().fit(pool[:1])
    epochs = cfg["scaling_epochs"]
    rows = []
    for n in cfg["scaling"]:
        S, feature_s = [], 0.0
        for lo in range(0, n, len(pool)):
            k = min(len(pool), n - lo)
            chunk = np.stack([np.roll(x, rng.integers(pool.shape[1])) for x in pool[:k]])
            start = time.perf_counter()
            S.append(mel.transform(chunk))
            feature_s += time.perf_counter() - start
        S = np.concatenate(S)
        # No step budget, so that every size trains the same number of epochs.
        detector = ConvAutoencoderDetector(max_epochs=epochs, max_steps=None,
                                           patience=epochs + 1, random_state=0)
        start = time.perf_counter()
        detector.fit(S)
        fit_s = time.perf_counter() - start
        # Epochs after the first exclude compilation (compiled per padded clip count).
        epoch_s = float(np.median([h["seconds"] for h in detector.history_[1:]]))
        detector.score_samples(S[:16])
        start = time.perf_counter()
        detector.score_samples(S)
        score_s = time.perf_counter() - start
        rows.append([n, f"{feature_s:.1f}", f"{fit_s:.1f}", f"{epoch_s:.2f}",
                     f"{epoch_s / n * 1e3:.2f}", f"{(feature_s + fit_s) / n * 1e3:.1f}",
                     f"{score_s:.1f}", f"{(feature_s + score_s) / n * 1e3:.2f}"])
        log(f"  {n} clips: features {feature_s:.1f} s, fit {fit_s:.1f} s "
            f"({epoch_s / n * 1e3:.2f} ms per clip-epoch), score {score_s:.1f} s")
    header = ["clips", "features s", "fit s", "s/epoch (2+)", "ms per clip-epoch",
              "fit ms/clip (features incl.)", "score s", "score ms/clip (features incl.)"]
    intro = (f"Fixed {epochs} epochs (no early stopping, no step budget), the default "
             "detector; fit s includes the first epoch's compilation, s/epoch does not. "
             "Linear cost shows as a flat ms per clip-epoch and score ms/clip.")
    summary = (f"scaling: ms per clip-epoch {rows[0][4]} at {rows[0][0]} clips, {rows[-1][4]} "
               f"at {rows[-1][0]}; score ms/clip {rows[0][7]} and {rows[-1][7]}")
    return intro, header, rows, summary


# --------------------------------------------------------------------------- report
def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(map(str, r)) + " |" for r in rows]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, tenfold smaller")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    cfg = QUICK if args.quick else FULL
    out = args.out or HERE / "results" / ("speed_quick.md" if args.quick else "speed.md")
    machine = machine_description()
    load_before = os.getloadavg()
    log("machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()))
    log(f"load average at start: {load_before[0]:.2f}")
    sections = {}
    started = time.perf_counter()
    for title, function in (("Features", features_section), ("Training", training_section),
                            ("Scoring", scoring_section), ("Peak memory", memory_section),
                            ("Scaling", scaling_section)):
        log(f"\n== {title}")
        start = time.perf_counter()
        intro, header, rows, summary = function(cfg)
        sections[title] = (intro, header, rows, summary, time.perf_counter() - start)
        log(intro)
        log("\n".join(_table(header, rows)))
    load_after = os.getloadavg()
    log(f"\nload average at end: {load_after[0]:.2f}; total {time.perf_counter() - started:.0f} s")

    lines = ["# skaudio_ad speed" + (" (--quick smoke run, not for citing)" if args.quick
                                     else ""), "",
             "Produced by `python benchmarks/speed.py" + (" --quick" if args.quick else "")
             + f"` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Ratios compare "
             "figures measured in the same run.", "", "## Machine", ""]
    lines += _table(["item", "value"], [[k, v] for k, v in machine.items()]
                    + [["load average (1 min) at start / end",
                        f"{load_before[0]:.2f} / {load_after[0]:.2f}"]])
    lines += ["", "## Summary", ""] + [f"- {v[3]}" for v in sections.values()]
    for title, (intro, header, rows, _, seconds) in sections.items():
        lines += ["", f"## {title}", "", intro + f" (section ran {seconds:.0f} s)", ""]
        lines += _table(header, rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
