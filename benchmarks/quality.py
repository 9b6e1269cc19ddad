"""Detection quality on every labelled real clip in ../shared/data, clean and with background.

    python benchmarks/quality.py [--quick] [--systems default knn ...] [--splits 5]
        [--seeds 3] [--conditions clean "-6 dB" "-12 dB" "shift clean" "shift -6 dB"]
        [--data ../shared/data] [--out benchmarks/results/quality.md]

Sets: MIMII fan id_00 (channel 0) and the DCASE 2020 dev sample per machine type (fan, pump,
slider, valve, ToyCar, ToyConveyor; every clip cropped to 10 s). Conditions: clean, and with
recordings of the *other* machine types mixed into every train and test clip at -6 and -12 dB
by :func:`skaudio_ad.datasets.mix_background` (SNR = mean power of the machine clip over mean
power of the added background over the clip; each clip draws its own background clip, of a
random other type, at a random offset, looped or cropped). Log-mel features
(``MelSpectrogramTransformer(sr=16000)`` defaults) are computed once per set and condition and
cached under ``benchmarks/scratch/``.

Two more conditions measure a *domain shift* (DCASE 2022-2023's setting, where a machine is
also recorded under a second condition with few training clips): ``shift clean`` and
``shift -6 dB``. Condition A is the clean (or -6 dB) condition above; condition B is the
machine "recorded elsewhere": a fixed equaliser (:func:`recorded_elsewhere`: the band under
300 Hz cut by about 8 dB, 2-4 kHz raised, half the amplitude) and one fixed other machine type
as background (its own clip and offset per clip) at 0 dB (``shift clean``) or -6 dB
(``shift -6 dB``), mixed by the same function. The split's training normals are in A except
the last two, in B; the test normals and anomalies alternate between A and B.

Protocol: per set, ``--splits`` random splits of the normal clips (test = ``min(10, n // 2)``
normals plus every anomaly, train = the other normals), each with ``--seeds`` seeds. Reported
per condition: mean +- sd over sets of the per-set mean ROC AUC (anomaly = positive, score =
``-score_samples``), the false-alarm rate of ``predict`` on the held-out normal clips (a
Gaussian gives 2.3 % at k = 2) and its detection rate on the anomalies, the paired AUC
difference against the reference system over every (set, condition, split, seed), and the
mean fit time. The paired references are the previous default (``combined``: the same
networks with the spectral evidence too, reused through ``--memory``, so list it after
``default``) and release 0.1's default (``old-default``).
"""

import argparse
import json
import sys
import time
import zlib
from pathlib import Path

import numpy as np
from scipy import signal
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import _baselines  # noqa: E402
from _baselines import SYSTEMS  # noqa: E402

from skaudio_ad import MelSpectrogramTransformer  # noqa: E402
from skaudio_ad.datasets import mix_background  # noqa: E402
from skaudio_ad.io import load_audio  # noqa: E402

SR = 16000
DURATION = 10.0
CONDITIONS = {"clean": None, "-6 dB": -6.0, "-12 dB": -12.0}
#: Domain-shift conditions: the SNR of condition A (as above), that of condition B's background,
#: and the tag that names condition B's cache and seeds its draws.
SHIFT_CONDITIONS = {
    "shift clean": (None, 0.0, "shiftclean"),
    "shift -6 dB": (-6.0, -6.0, "shift-6"),
}
#: Condition groups of the tables (the shift group only when its rows are there).
GROUPS = {"clean": ["clean"], "noisy (-6, -12 dB)": ["-6 dB", "-12 dB"],
          "shift": list(SHIFT_CONDITIONS)}
DCASE_TYPES = ["fan", "pump", "slider", "valve", "ToyCar", "ToyConveyor"]


def discover(data):
    """``{set name: (machine type, normal paths, anomaly paths)}`` of the real samples."""
    sets = {}
    mimii = data / "mimii" / "fan" / "id_00"
    if mimii.is_dir():
        sets["MIMII fan id_00"] = (
            "fan",
            sorted((mimii / "normal").glob("*.wav")),
            sorted((mimii / "abnormal").glob("*.wav")),
        )
    for kind in DCASE_TYPES:
        folder = data / "dcase2020" / "dev_data" / kind
        if not folder.is_dir():
            continue
        normal = sorted((folder / "test").glob("normal_*.wav"))
        normal += sorted((folder / "train").glob("normal_*.wav"))
        anomaly = sorted((folder / "test").glob("anomaly_*.wav"))
        sets[f"DCASE {kind}"] = (kind, normal, anomaly)
    return sets


def background_pool(sets, kind):
    """Waveform files of every machine type but ``kind``, grouped by type."""
    pool = {}
    for other, normal, anomaly in sets.values():
        if other != kind:
            pool.setdefault(other, []).extend(normal + anomaly)
    return {k: sorted(set(v)) for k, v in pool.items()}


def _mixed_features(cache, seed, paths, snr, draw_files, prepare=None):
    """Log-mel of ``paths``, each clip (after ``prepare``) with a background clip from
    ``draw_files(rng)`` at ``snr`` dB (None: clean), cached in ``cache``."""
    if cache.exists():
        return np.load(cache)["X"]
    waves = load_audio(paths, sr=SR, duration=DURATION)
    if snr is not None:
        rng = np.random.default_rng(zlib.crc32(seed.encode()))
        for i in range(len(waves)):
            files = draw_files(rng)
            background = load_audio([files[rng.integers(len(files))]], sr=SR)[0]
            offset = int(rng.integers(len(background)))
            wave = waves[i] if prepare is None else prepare(waves[i])
            waves[i] = mix_background(wave, background, snr, offset=offset)
    X = MelSpectrogramTransformer(sr=SR).fit_transform(waves).astype(np.float32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, X=X)
    return X


def features(name, kind, paths, pool, snr, scratch):
    """Log-mel features of ``paths`` with background at ``snr`` dB (None: clean), cached.

    Each clip draws its background's machine type at random among the other types.
    """
    tag = "clean" if snr is None else f"{snr:+g}dB"
    types = sorted(pool)
    return _mixed_features(
        scratch / f"{zlib.crc32(name.encode()):08x}_{tag}.npz", f"{name}|{tag}", paths, snr,
        lambda rng: pool[types[rng.integers(len(types))]],
    )


def recorded_elsewhere(wave):
    """The fixed equaliser of condition B: lows cut (~8 dB under 300 Hz), 2-4 kHz raised, x0.5."""
    low = signal.lfilter(*signal.butter(2, 300, fs=SR), wave)
    band = signal.lfilter(*signal.butter(2, [2000, 4000], btype="band", fs=SR), wave)
    return (0.5 * (wave - 0.6 * low + band)).astype(np.float32)


def shifted_features(name, paths, pool, snr, tag, scratch):
    """Log-mel of ``paths`` in condition B: :func:`recorded_elsewhere` + one fixed other type."""
    files = pool[sorted(pool)[zlib.crc32(name.encode()) % len(pool)]]
    return _mixed_features(
        scratch / f"shift_{zlib.crc32(name.encode()):08x}_{tag}.npz", f"{name}|shift{tag}",
        paths, snr, lambda rng: files, prepare=recorded_elsewhere,
    )


def splits(n_normal, n_splits, name):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    n_test = min(10, n_normal // 2)
    for _ in range(n_splits):
        order = rng.permutation(n_normal)
        yield order[n_test:], order[:n_test]


def run(args):
    sets = discover(args.data)
    if args.quick:
        wanted = ["MIMII fan id_00", "DCASE valve", "DCASE pump", "DCASE slider"]
        sets = {k: v for k, v in sets.items() if k in wanted}
    if args.sets:
        sets = {k: v for k, v in sets.items() if any(s in k for s in args.sets)}
    conditions = args.conditions or list(CONDITIONS)
    rows = []
    for name, (kind, normal, anomaly) in sets.items():
        pool = background_pool(discover(args.data), kind)
        paths = list(normal) + list(anomaly)
        n = len(normal)
        for condition in conditions:
            if condition in CONDITIONS:
                X = features(name, kind, paths, pool, CONDITIONS[condition], args.scratch)
                B = None
            else:
                snr_a, snr_b, tag = SHIFT_CONDITIONS[condition]
                X = features(name, kind, paths, pool, snr_a, args.scratch)
                B = shifted_features(name, paths, pool, snr_b, tag, args.scratch)
            anomalies = np.arange(n, len(paths))
            for split, (train, test) in enumerate(splits(n, args.splits, name)):
                if split < args.skip_splits:
                    continue
                X_train = X[train]
                X_test = np.concatenate([X[test], X[anomalies]])
                if B is not None:  # the last two training clips, every other test clip in B
                    X_train = np.concatenate([X[train[:-2]], B[train[-2:]]])
                    in_b = np.r_[np.arange(len(test)) % 2, np.arange(len(anomalies)) % 2] == 1
                    X_test[in_b] = np.concatenate([B[test], B[anomalies]])[in_b]
                y_test = np.r_[np.zeros(len(test)), np.ones(len(anomalies))]
                for seed in range(args.seeds):
                    for system in args.systems:
                        start = time.perf_counter()
                        model = SYSTEMS[system](seed).fit(X_train)
                        fit_s = time.perf_counter() - start
                        score = -model.score_samples(X_test)
                        flagged = model.predict(X_test) == -1
                        rows.append(dict(
                            set=name, condition=condition, split=split, seed=seed,
                            system=system, auc=roc_auc_score(y_test, score),
                            far=float(flagged[: len(test)].mean()),
                            detected=float(flagged[len(test) :].mean()),
                            fit_s=fit_s, n_train=len(train),
                        ))
                        if args.rows:
                            with args.rows.open("a") as f:
                                f.write(json.dumps(rows[-1]) + "\n")
                print(f"{name:16s} {condition:11s} split {split}: " + "  ".join(
                    f"{r['system']} {r['auc']:.3f}" for r in rows[-len(args.systems):]
                ), flush=True)
    return rows


def summarise(rows, systems, references):
    """Markdown tables: per condition group, per set, and paired differences."""
    import collections

    by = collections.defaultdict(list)
    for r in rows:
        by[(r["system"], r["set"], r["condition"])].append(r)
    sets = sorted({r["set"] for r in rows})
    present = {r["condition"] for r in rows}
    groups = {g: c for g, c in GROUPS.items() if present & set(c)}
    short = [g.split(" (")[0] for g in groups]
    lines = ["| system | " + " | ".join(f"AUC {g}" for g in groups) + " | "
             + " | ".join([f"FAR {g}" for g in short] + [f"detected {g}" for g in short])
             + " | fit s |", "| --- |" + " --- |" * (3 * len(groups) + 1)]
    for system in systems:
        cells, rates = [], {"far": [], "detected": []}
        for conds in groups.values():
            per_set = [np.mean([r["auc"] for r in by[(system, s, c)]])
                       for s in sets for c in conds if by[(system, s, c)]]
            cells.append(f"{np.mean(per_set):.3f} ± {np.std(per_set):.3f}")
            for rate, values in rates.items():
                # Rows of runs before the detection rate was recorded lack it.
                values.append(np.mean([r.get(rate, np.nan) for s in sets for c in conds
                                       for r in by[(system, s, c)]]))
        fit = np.mean([r["fit_s"] for r in rows if r["system"] == system])
        lines.append(f"| {system} | " + " | ".join(cells) + " | " + " | ".join(
            f"{v:.3f}" for v in rates["far"] + rates["detected"]) + f" | {fit:.1f} |")
    order = [c for c in [*CONDITIONS, *SHIFT_CONDITIONS] if c in present]
    lines += ["", f"Per set (mean AUC over splits and seeds; {' / '.join(order)}):", "",
              "| system | " + " | ".join(sets) + " |", "| --- |" + " --- |" * len(sets)]
    for system in systems:
        cells = []
        for s in sets:
            cells.append(" / ".join(
                f"{np.mean([r['auc'] for r in by[(system, s, c)]]):.2f}"
                for c in order if by[(system, s, c)]))
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    for ref in references:
        if ref not in systems:
            continue
        lines += ["", f"Paired AUC difference against `{ref}` (mean ± sd over every "
                  "set, condition, split and seed; wins/losses):", "",
                  "| system | " + " | ".join(short) + " |", "| --- |" + " --- |" * len(groups)]
        key = {(r["set"], r["condition"], r["split"], r["seed"]): r["auc"]
               for r in rows if r["system"] == ref}
        for system in systems:
            if system == ref:
                continue
            cells = []
            for conds in groups.values():
                d = np.array([r["auc"] - key[(r["set"], r["condition"], r["split"], r["seed"])]
                              for r in rows if r["system"] == system and r["condition"] in conds
                              and (r["set"], r["condition"], r["split"], r["seed"]) in key])
                cells.append(f"{d.mean():+.3f} ± {d.std():.3f} ({(d > 0).sum()}/{(d < 0).sum()})"
                             if d.size else "")
            lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--scratch", type=Path, default=ROOT / "benchmarks" / "scratch")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS))
    parser.add_argument("--reference", nargs="+", default=["combined", "old-default"],
                        help="systems every other one is paired against")
    parser.add_argument("--memory", type=Path, default=ROOT / "benchmarks" / "scratch" / "memory",
                        help="joblib cache where `default` leaves its networks for "
                        "`combined`, `untransformed` and `unscaled-profile` (same networks, other "
                        "scoring)")
    parser.add_argument("--sets", nargs="+")
    parser.add_argument("--conditions", nargs="+", choices=[*CONDITIONS, *SHIFT_CONDITIONS],
                        help="default: clean, -6 dB, -12 dB (the shift conditions on request)")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help="4 sets, 2 splits, 1 seed: minutes, for iterating")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--rows", type=Path, help="append every row as a JSON line here")
    parser.add_argument("--skip-splits", type=int, default=0,
                        help="run only splits after the first N (to extend an earlier run)")
    parser.add_argument("--merge", type=Path, nargs="+",
                        help="summarise the rows of earlier --rows files instead of running")
    args = parser.parse_args(argv)
    if args.merge:
        rows = [json.loads(line) for path in args.merge for line in path.read_text().splitlines()]
        systems = [s for s in args.systems if any(r["system"] == s for r in rows)]
        table = summarise(rows, systems, args.reference)
        print(table)
        if args.out:
            args.out.write_text(table + "\n")
        return
    if not args.data.is_dir():
        parser.error(f"--data {args.data} is not a folder (the real samples live there)")
    if args.quick:
        args.splits, args.seeds = min(args.splits, 2), 1
    _baselines.MEMORY = str(args.memory)
    rows = run(args)
    table = summarise(rows, args.systems, args.reference)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
