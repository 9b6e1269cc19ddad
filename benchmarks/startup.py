"""Start-up time of ``skaudio-ad score MODEL FILE`` against ``import numpy, scipy, sklearn, jax``.

Every figure is the wall time of a fresh process (``subprocess.run``), several runs each,
interleaved (baseline, warm, cold, no-cache, baseline, ...) so that load from other processes
hits all variants alike. Prints median and range, the warm/baseline ratio of medians, and
checks that every run printed the same scores.

- *baseline*: ``python -c "import numpy, scipy, sklearn, jax"``;
- *warm*: ``score`` with the persistent compilation cache already filled (second run onwards);
- *cold*: ``score`` with an empty cache folder (first run after install);
- *no-cache*: ``score --no-cache``.

Usage::

    python benchmarks/startup.py [--runs 7] [--model MODEL] [--file FILE.wav]

Without ``--model`` a small model is trained on synthetic 10 s fan clips (about a minute);
without ``--file`` a real 10 s recording from ``../shared/data`` is used when present.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SKAUDIO_AD_DATA", REPO.parent / "shared" / "data"))


def _env(cache_dir=None):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if cache_dir is not None:
        env["SKAUDIO_AD_CACHE_DIR"] = str(cache_dir)
    return env


def _cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(cmd, env):
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return seconds, done.stdout


def _train_model(folder):
    import numpy as np
    import soundfile as sf

    from skaudio_ad.datasets import make_machine_sounds

    X, _ = make_machine_sounds(8, 0, machine="fan", duration=10.0, random_state=0)
    for i, x in enumerate(X):
        sf.write(folder / f"normal_{i}.wav", x.astype(np.float32), 16000)
    model = folder / "model.skops"
    subprocess.run([sys.executable, "-m", "skaudio_ad", "fit", str(folder), "-o", str(model),
                    "--epochs", "3", "--seed", "0", "--quiet", "--no-cache"],
                   env=_env(), check=True, capture_output=True)
    return model, folder / "normal_0.wav"


def _summary(name, times):
    return (f"{name:<10} median {statistics.median(times):6.2f} s   range "
            f"{min(times):5.2f}-{max(times):5.2f} s   ({len(times)} runs)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--model")
    parser.add_argument("--file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.model is None:
            print("training a small model on synthetic 10 s clips...", flush=True)
            model, synthetic = _train_model(tmp)
        else:
            model, synthetic = Path(args.model), None
        real = sorted(DATA.glob("mimii/fan/id_00/normal/*.wav"))
        audio = Path(args.file) if args.file else (real[0] if real else synthetic)
        if audio is None:
            sys.exit("give --file FILE.wav (no recording found in ../shared/data)")
        score = [sys.executable, "-m", "skaudio_ad", "score", str(model), str(audio), "--quiet"]
        baseline = [sys.executable, "-c", "import numpy, scipy, sklearn, jax"]
        warm_dir = tmp / "warm-cache"
        _timed(score, _env(warm_dir))  # fills the cache

        times = {"baseline": [], "warm": [], "cold": [], "no-cache": []}
        cpu = {name: [] for name in times}
        outputs = set()
        for run in range(args.runs):
            for name, cmd, env in [
                ("baseline", baseline, _env()),
                ("warm", score, _env(warm_dir)),
                ("cold", score, _env(tmp / f"cold-cache-{run}")),
                ("no-cache", score + ["--no-cache"], _env()),
            ]:
                before = _cpu()
                seconds, out = _timed(cmd, env)
                cpu[name].append(_cpu() - before)
                times[name].append(seconds)
                if name != "baseline":
                    outputs.add(out)

    print(f"score {model.name} {audio} on {os.cpu_count()} CPU(s), Python "
          f"{sys.version.split()[0]}")
    print("wall time:")
    for name, values in times.items():
        print(_summary(name, values))
    print("CPU time (user + sys):")
    for name, values in cpu.items():
        print(_summary(name, values))
    for label, table in (("wall", times), ("CPU", cpu)):
        base = statistics.median(table["baseline"])
        print(f"{label}: " + ", ".join(
            f"{name}/baseline {statistics.median(table[name]) / base:.2f}x"
            for name in ("warm", "cold", "no-cache")))
    print("scores identical in every run:", len(outputs) == 1)
    if len(outputs) != 1:
        print(*sorted(outputs), sep="\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
