"""Detection quality on MIMII or DCASE 2020 Task 2: our detector beside the field's baselines.

Usage:
    python benchmarks/mimii.py --root DIR --dataset mimii|dcase2020 [--machine fan pump ...]
        [--snr 6 0 -6] [--ids id_00 ...] [--quick] [--max-epochs N] [--seed 0] [--out DIR]
        [--mix-background DIR --mix-snr -6] [--no-plots]

Protocols, as the published baselines ran them:

- MIMII (Purohit et al. 2019): one model per machine type, id and SNR, on channel 0; per id
  and SNR the first N_abnormal normal files (sorted) and all abnormal files are the test set,
  the other normals train (``load_mimii(...).split``). Where that leaves no training normal
  (the 20 + 20 clips of ``../shared/data/mimii``), the first half of the sorted normals train
  and the rest are tested with the abnormal files; the ``split`` column and the Markdown say
  so.
- DCASE 2020 (``load_dcase2020``): one model per machine type trained on ``train/`` (all its
  ids, as the DCASE 2020 baseline did), metrics per machine id on ``test/``. Machine types and
  ids without training clips are skipped with a note.

Systems, all on the same log-mel features (``MelSpectrogramTransformer()`` defaults: 64 mels,
n_fft 1024, hop 512, the baseline's settings), computed once per job:

- ``conv_ae``: ``ConvAutoencoderDetector(random_state=seed)``, the detector step of the default
  ``Pipeline([("mel", MelSpectrogramTransformer()), ("detector", ...)])`` (the transformer is
  stateless, so this is that pipeline's fit); threshold: its own ``offset_``.
- ``dense_ae``: the MIMII dense autoencoder baseline reproduced in JAX/Flax
  (``benchmarks/_baselines.py``); threshold mean + 2 std of held-out normal clip errors.
- ``iforest``: IsolationForest on the mean over time of the log-mel bins; its own ``offset_``.

``--mix-background DIR --mix-snr S`` adds real background to every train and test clip: WAV
files found under DIR, except those in a folder named like the machine type, split per job into
disjoint halves for training and test clips, each clip drawing one recording at a random
circular offset, mixed by :func:`skaudio_ad.datasets.mix_background` (the one mixing rule of
every benchmark): S is the ratio in dB of the clip's mean power to the added background's, over
the clip, MIMII's own definition of its -6 dB condition.

Outputs in ``--out`` (default ``benchmarks/results/<dataset>[_quick]``): ``results.csv`` (one
row per condition, system, machine type, id and SNR; re-running skips rows already there),
``results.md`` (means beside the published baseline figures), ``settings.json``, PNGs and
``scores/*.npz`` (the scores behind the plots). ``fit_seconds`` and ``score_seconds`` exclude
the features; ``feature_seconds`` (reading, mixing, log-mel of the job's train and test clips)
is shared by the systems and adds to each for the end-to-end cost.
"""

import argparse
import csv
import json
import math
import re
import shlex
import sys
import time
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from _baselines import DenseAutoencoderBaseline, make_iforest_baseline  # noqa: E402

from skaudio_ad import ConvAutoencoderDetector, MelSpectrogramTransformer  # noqa: E402
from skaudio_ad.datasets import load_dcase2020, load_mimii, mix_background  # noqa: E402
from skaudio_ad.io import iter_audio_chunks, read_audio  # noqa: E402
from skaudio_ad.metrics import (  # noqa: E402
    anomaly_balanced_accuracy,
    anomaly_f1,
    anomaly_partial_auc,
    anomaly_roc_auc,
)

SR = 16000
REPO = Path(__file__).resolve().parents[1]
SYSTEMS = {
    "conv_ae": "ConvAutoencoderDetector (ours, defaults)",
    "dense_ae": "dense AE 64-64-8-64-64 on 5 x 64 log-mel frames (MIMII baseline, reproduced)",
    "iforest": "IsolationForest on mean log-mel",
}
#: Third-party rerun of the MIMII baseline, mean AUC over ids (../shared/NOTES.md).
MIMII_PUBLISHED = {
    "fan": {6.0: 0.920, 0.0: 0.805, -6.0: 0.681},
    "pump": {6.0: 0.799, 0.0: 0.734, -6.0: 0.670},
    "slider": {6.0: 0.857, 0.0: 0.783, -6.0: 0.733},
    "valve": {6.0: 0.679, 0.0: 0.600, -6.0: 0.558},
}
#: DCASE 2020 Task 2 baseline, development set, (AUC, pAUC) per machine type.
DCASE_PUBLISHED = {
    "ToyCar": (0.801, 0.672), "ToyConveyor": (0.727, 0.607), "fan": (0.652, 0.526),
    "pump": (0.726, 0.600), "slider": (0.850, 0.669), "valve": (0.665, 0.506),
}
COLUMNS = [
    "dataset", "condition", "system", "machine_type", "machine_id", "snr_db", "split",
    "n_train", "n_test_normal", "n_test_anomalous", "auc", "pauc", "f1", "balanced_accuracy",
    "threshold", "fit_seconds", "score_seconds", "feature_seconds", "n_epochs", "seed",
    "background",
]
_SNR_DIR = re.compile(r"^(-?\d+(?:\.\d+)?)_dB_(.+)$")
_ID_DIR = re.compile(r"^id_\d+$")


# --------------------------------------------------------------------------- jobs
class Job:
    """One model: its training files and its test files with labels and machine ids."""

    def __init__(self, machine_type, snr, train, test, y_test, test_ids, split):
        self.machine_type, self.snr, self.split = machine_type, snr, split
        self.train, self.test = list(train), list(test)
        self.y_test, self.test_ids = np.asarray(y_test), np.asarray(test_ids)
        self.ids = sorted({str(i) for i in self.test_ids})
        self.plotted = False  # the first job of its (machine type, SNR) keeps scores for plots

    @property
    def snr_text(self):
        return "" if math.isnan(self.snr) else f"{self.snr:g}"

    @property
    def name(self):
        snr = f" {self.snr_text} dB" if self.snr_text else ""
        return f"{self.machine_type}{snr} {'+'.join(self.ids)}"


def _subdirs(path):
    return sorted(p.name for p in Path(path).iterdir() if p.is_dir())


def mimii_jobs(root, machines, snrs, ids, notes):
    names = _subdirs(root)
    found = sorted({m.group(2) for n in names if (m := _SNR_DIR.match(n))}) or [
        d for d in names if any(_ID_DIR.match(s) for s in _subdirs(root / d))]
    jobs = []
    for machine in machines or found:
        try:
            data = load_mimii(root, machine_type=machine, machine_id=ids, snr=snrs)
        except (ValueError, FileNotFoundError) as exc:
            notes.append(f"skipped MIMII {machine}: {exc}")
            continue
        snr_values = data.snr.astype(float)
        # NaN (unknown SNR) compares unequal to itself: group on a finite stand-in.
        snr_keys = np.nan_to_num(snr_values, nan=-99.0)
        keys = sorted({(float(s), str(i)) for s, i in zip(snr_keys, data.machine_id,
                                                        strict=True)},
                      key=lambda k: (-k[0] if k[0] != -99.0 else 99.0, k[1]))
        for snr_key, machine_id in keys:
            snr = float("nan") if snr_key == -99.0 else snr_key
            here = (data.machine_id == machine_id) & (snr_keys == snr_key)
            train = here & (data.split == "train")
            test = here & (data.split == "test")
            split = "MIMII baseline split"
            if not train.any():
                normals = np.flatnonzero(here & (data.target == 0))
                if len(normals) < 2:
                    notes.append(f"skipped MIMII {machine} {machine_id}: fewer than 2 normals")
                    continue
                # Files are sorted by name, so the first half of the normals is the first half
                # of the sorted normal files.
                train = np.zeros_like(here)
                train[normals[: len(normals) // 2]] = True
                test = here & ~train
                split = "fallback: first half of normals train (baseline split left none)"
                where = "SNR unknown" if math.isnan(snr) else f"{snr:g} dB"
                notes.append(
                    f"MIMII {machine} {machine_id} ({where}): the baseline split (first "
                    f"N_abnormal = {int((here & (data.target == 1)).sum())} normals to test) "
                    "leaves no training normal; FALLBACK split used: the first half of the "
                    f"sorted normals ({int(train.sum())}) train, the other "
                    f"{int((test & (data.target == 0)).sum())} normals and all abnormal files "
                    "are tested. Not the published protocol."
                )
            jobs.append(Job(machine, float(snr), data.filenames[train], data.filenames[test],
                            data.target[test], data.machine_id[test], split))
    return jobs


def dcase_jobs(root, machines, ids, notes):
    base = root / "dev_data" if (root / "dev_data").is_dir() else root
    found = [d for d in _subdirs(base) if (base / d / "train").is_dir()
             or (base / d / "test").is_dir()]
    jobs = []
    for machine in machines or found:
        try:
            data = load_dcase2020(root, machine_type=machine, machine_id=ids)
        except (ValueError, FileNotFoundError) as exc:
            notes.append(f"skipped DCASE {machine}: {exc}")
            continue
        train = data.split == "train"
        trained_ids = sorted({str(i) for i in data.machine_id[train]})
        test_ids = sorted({str(i) for i in data.machine_id[data.split == "test"]})
        untrained = [i for i in test_ids if i not in trained_ids]
        if not trained_ids:
            notes.append(f"skipped DCASE {machine}: no train/ clips (test ids {test_ids}).")
            continue
        if untrained:
            notes.append(f"DCASE {machine}: ids {untrained} have test clips but no train/ "
                         "clips; not evaluated.")
        test = (data.split == "test") & np.isin(data.machine_id, trained_ids) & (
            data.target >= 0)
        jobs.append(Job(data.machine_type, float("nan"), data.filenames[train],
                        data.filenames[test], data.target[test], data.machine_id[test],
                        "DCASE 2020 train/ and test/ folders; one model per machine type"))
    return jobs


# --------------------------------------------------------------------------- audio and features
@lru_cache(maxsize=1)
def _wav_files(root):
    return tuple(sorted(Path(root).rglob("*.wav")))


@lru_cache(maxsize=512)
def _background(path):
    return read_audio(path, sr=SR, channel=0)


class BackgroundMixer:
    """Other machines' recordings added to every clip of one job at a fixed gain."""

    def __init__(self, root, snr_db, job, seed, duration=None):
        root = Path(root)
        own = {str(Path(p).resolve()) for p in [*job.train, *job.test]}
        pool = [p for p in _wav_files(str(root))
                if job.machine_type.casefold() not in
                {part.casefold() for part in p.relative_to(root).parts[:-1]}
                and str(p.resolve()) not in own]
        if len(pool) < 2:
            raise SystemExit(
                f"--mix-background {root}: fewer than 2 WAV files outside folders named "
                f"{job.machine_type!r}; point it at recordings of other machines."
            )
        key = zlib.crc32(f"{job.machine_type}|{job.snr_text}|{'+'.join(job.ids)}".encode())
        order = np.random.default_rng([seed, key]).permutation(len(pool))
        half = len(pool) // 2
        self.pools = {"train": [pool[i] for i in order[:half]],
                      "test": [pool[i] for i in order[half:]]}
        self.rngs = {part: np.random.default_rng([seed, key, n])
                     for n, part in enumerate(("train", "test"))}
        self.snr_db = snr_db

    def mix(self, X, part):
        """Each clip plus its own background clip, by :func:`skaudio_ad.datasets.mix_background`.

        The SNR is the clip's mean power over the added background's, both over the clip; the
        background is a random recording of the pool, looped or cropped from a random offset.
        """
        rng, pool = self.rngs[part], self.pools[part]
        out = np.array(X, dtype=np.float32)
        for row in range(len(out)):
            background = _background(str(pool[rng.integers(len(pool))]))
            offset = int(rng.integers(len(background)))
            out[row] = mix_background(out[row], background, self.snr_db, offset=offset)
        return out


def features(paths, duration, mixer=None, part="train"):
    """Log-mel spectrograms of ``paths`` (channel 0), read and mixed 64 files at a time."""
    mel = MelSpectrogramTransformer()
    S = None
    for start, X in iter_audio_chunks(paths, 64, sr=SR, channel=0, duration=duration):
        if mixer is not None:
            X = mixer.mix(X, part)
        chunk = mel.fit(X).transform(X)
        if S is None:
            S = np.empty((len(paths), *chunk.shape[1:]), dtype=np.float32)
        S[start : start + len(X)] = chunk
    return S


# --------------------------------------------------------------------------- systems
def make_system(name, seed, max_epochs):
    if name == "conv_ae":
        return ConvAutoencoderDetector(random_state=seed, max_epochs=max_epochs[name])
    if name == "dense_ae":
        return DenseAutoencoderBaseline(random_state=seed, max_epochs=max_epochs[name])
    return make_iforest_baseline(random_state=seed)


def _offset(model):
    return model.offset_ if hasattr(model, "offset_") else model[-1].offset_


def _metrics(y, score, predicted):
    both = len(set(y.tolist())) == 2
    return {
        "auc": anomaly_roc_auc(y, score) if both else float("nan"),
        "pauc": anomaly_partial_auc(y, score, max_fpr=0.1) if both else float("nan"),
        "f1": anomaly_f1(y, predicted == -1),
        "balanced_accuracy": anomaly_balanced_accuracy(y, predicted == -1),
    }


# --------------------------------------------------------------------------- results files
def _key(row):
    return (row["condition"], row["system"], row["machine_type"], row["machine_id"],
            row["snr_db"])


def read_rows(path):
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def append_rows(path, rows):
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        if new:
            writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v)
                             for k, v in row.items()})


def check_settings(out, settings, command):
    path = out / "settings.json"
    stored = json.loads(path.read_text()) if path.exists() else None
    if stored is not None:
        mismatch = {k: (stored.get(k), v) for k, v in settings.items() if stored.get(k) != v}
        if mismatch and (out / "results.csv").exists():
            raise SystemExit(
                f"{out} holds results made with other settings {mismatch} (stored, now); "
                "pass another --out or delete that folder."
            )
    commands = (stored or {}).get("commands", [])
    if command not in commands:
        commands.append(command)
    path.write_text(json.dumps({**settings, "commands": commands}, indent=1) + "\n")
    return commands


# --------------------------------------------------------------------------- one job
def run_job(job, systems, condition, args, max_epochs, out):
    start = time.perf_counter()
    # Every clip cropped or padded to the first training file's length (MIMII: 10 s).
    info = sf.info(job.train[0])
    duration = info.frames / info.samplerate
    mixer = (BackgroundMixer(args.mix_background, args.mix_snr, job, args.seed, duration)
             if args.mix_background else None)
    S_train = features(job.train, duration, mixer, "train")
    S_test = features(job.test, duration, mixer, "test")
    feature_seconds = time.perf_counter() - start
    rows, kept = [], {}
    for name in systems:
        model = make_system(name, args.seed, max_epochs)
        start = time.perf_counter()
        model.fit(S_train)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        score = -model.score_samples(S_test)
        score_seconds = time.perf_counter() - start
        predicted = np.where(score > -_offset(model), -1, 1)  # = model.predict(S_test)
        for machine_id in job.ids:
            here = job.test_ids == machine_id
            y = job.y_test[here]
            rows.append({
                "dataset": args.dataset, "condition": condition, "system": name,
                "machine_type": job.machine_type, "machine_id": machine_id,
                "snr_db": job.snr_text, "split": job.split, "n_train": len(job.train),
                "n_test_normal": int((y == 0).sum()), "n_test_anomalous": int((y == 1).sum()),
                **_metrics(y, score[here], predicted[here]),
                "threshold": float(-_offset(model)), "fit_seconds": fit_seconds,
                "score_seconds": score_seconds, "feature_seconds": feature_seconds,
                "n_epochs": getattr(model, "n_epochs_", ""), "seed": args.seed,
                "background": str(args.mix_background or ""),
            })
        if job.plotted and not args.no_plots:
            valid = np.zeros(len(S_train), dtype=bool)
            valid[getattr(model, "validation_indices_", [])] = True
            kept[name] = {"test": score, "train": -model.score_samples(S_train),
                          "valid": valid, "threshold": -_offset(model)}
    if kept:
        slug = _slug(condition)
        path = out / "scores" / f"{slug}__{job.machine_type}__{job.snr_text or 'na'}.npz"
        path.parent.mkdir(exist_ok=True)
        old = dict(np.load(path)) if path.exists() else {}
        new = {f"{s}__{k}": np.asarray(v) for s, d in kept.items() for k, v in d.items()}
        np.savez_compressed(path, **{**old, **new, "y": job.y_test,
                                     "label": np.asarray(f"{job.machine_type} "
                                                         f"{'+'.join(job.ids)}")})
        spectrograms = out / f"spectrograms_{slug}_{job.machine_type}.png"
        if not spectrograms.exists():
            plot_examples(S_test, job, condition, spectrograms)
    return rows


# --------------------------------------------------------------------------- plots
def _slug(condition):
    return condition.replace(" ", "")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_examples(S_test, job, condition, path):
    plt = _pyplot()
    from skaudio_ad.plotting import plot_spectrograms

    normal, anomalous = np.flatnonzero(job.y_test == 0), np.flatnonzero(job.y_test == 1)
    if not len(normal) or not len(anomalous):
        return
    titles = [f"{job.machine_type} {job.test_ids[i]} {kind} ({condition}): "
              f"{Path(job.test[i]).name}" for i, kind in ((normal[0], "normal"),
                                                          (anomalous[0], "anomalous"))]
    fig = plot_spectrograms(S_test[normal[0]], S_test[anomalous[0]], sr=SR, hop_length=512,
                            titles=tuple(titles))
    fig.savefig(path, dpi=50)
    plt.close(fig)


def plot_scores(out, dataset):
    plt = _pyplot()
    from skaudio_ad.plotting import plot_roc, plot_score_distributions

    groups = {}
    for path in sorted((out / "scores").glob("*.npz")):
        slug, machine, snr = path.stem.split("__")
        groups.setdefault((slug, machine), []).append((snr, path))
    for (slug, machine), items in groups.items():
        items.sort(key=lambda item: -float(item[0]) if item[0] != "na" else 99)
        for kind in ("roc", "scores"):
            fig, axes = plt.subplots(len(items), len(SYSTEMS), squeeze=False, layout="constrained",
                                     figsize=(5.0 * len(SYSTEMS), 4.6 * len(items)))
            for row, (snr, path) in enumerate(items):
                data = np.load(path)
                y = data["y"]
                snr_text = f"{snr} dB" if snr != "na" else (
                    "SNR unknown" if dataset == "mimii" else "")
                for col, system in enumerate(SYSTEMS):
                    ax = axes[row, col]
                    if f"{system}__test" not in data:
                        ax.set_axis_off()
                        continue
                    score, thr = data[f"{system}__test"], float(data[f"{system}__threshold"])
                    title = ", ".join(t for t in (f"{system}: {data['label']}", snr_text, slug)
                                      if t)
                    if kind == "roc":
                        plot_roc(y, score, threshold=thr, label=system, title=title, ax=ax)
                    else:
                        train, valid = data[f"{system}__train"], data[f"{system}__valid"]
                        plot_score_distributions(
                            {"train": train[~valid], "validation": train[valid],
                             "test normal": score[y == 0], "test anomalous": score[y == 1]},
                            threshold=thr, title=title, ax=ax)
            fig.savefig(out / f"{kind}_{slug}_{machine}.png", dpi=50)
            plt.close(fig)


# --------------------------------------------------------------------------- Markdown
def _f(x, digits=3):
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _mean(rows, column):
    values = [float(r[column]) for r in rows if r[column] not in ("", "nan")]
    return float(np.mean(values)) if values else float("nan")


def _snr_value(text):
    return float(text) if text else float("nan")


def _snr_label(text):
    return f"{text} dB" if text else "unknown"


def _published_mimii(machines, snr_text):
    if snr_text:
        values = [MIMII_PUBLISHED[m].get(float(snr_text)) for m in machines
                  if m in MIMII_PUBLISHED]
        values = [v for v in values if v is not None]
        return _f(np.mean(values)) if values else "–"
    cells = [" / ".join(_f(MIMII_PUBLISHED[m][s]) for s in (6.0, 0.0, -6.0))
             for m in machines if m in MIMII_PUBLISHED]
    return (cells[0] + " (6 / 0 / −6 dB)") if len(cells) == 1 else "–"


def _system_cells(rows):
    cells = []
    for system in SYSTEMS:
        mine = [r for r in rows if r["system"] == system]
        cells += [_f(_mean(mine, "auc")), _f(_mean(mine, "pauc"))]
    return cells


def _table(header, body):
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(map(str, cells)) + " |" for cells in body]


def write_markdown(out, rows, args, commands, notes, max_epochs):
    system_header = [f"{s} {m}" for s in SYSTEMS for m in ("AUC", "pAUC")]
    lines = [f"# Detection quality on {args.dataset} ({'quick' if args.quick else 'full'} "
             "settings)", "", "Produced by (from the repository root):", ""]
    lines += [f"    {c}" for c in commands]
    lines += ["", "Systems (same log-mel features for all: 64 mels, n_fft 1024, hop 512, "
              "channel 0):", ""]
    lines += [f"- `{s}`: {d}" for s, d in SYSTEMS.items()]
    lines += [
        "", f"Epochs: conv_ae max_epochs {max_epochs['conv_ae']} (early stopping, patience 10),"
        f" dense_ae {max_epochs['dense_ae']} (fixed, as the baseline); seed {args.seed}. "
        "Thresholds for F1 and balanced accuracy: conv_ae and dense_ae flag a clip whose error "
        "exceeds mean + 2 std of held-out normal training clips' errors; iforest uses its own "
        "offset_ (contamination='auto'). AUC/pAUC: `skaudio_ad.metrics` (pAUC max_fpr 0.1, "
        "McClish-standardised, as DCASE). Published: "
        + ("third-party rerun of the MIMII dense AE baseline (mean over ids)."
           if args.dataset == "mimii" else "DCASE 2020 Task 2 baseline, development set "
           "(its network was 128-128-128-128-8 with batch norm; ours is 64-64-8-64-64).")]
    for condition in sorted({r["condition"] for r in rows}, key=lambda c: c != "clean"):
        mine = [r for r in rows if r["condition"] == condition]
        background = sorted({r["background"] for r in mine} - {""})
        lines += ["", f"## {condition}" + (f" (background: {', '.join(background)})"
                                          if background else ""), ""]
        machines = sorted({r["machine_type"] for r in mine})
        snrs = sorted({r["snr_db"] for r in mine}, key=lambda s: -np.nan_to_num(
            _snr_value(s), nan=-99))
        if args.dataset == "mimii":
            lines += ["Per machine type and SNR (mean over machine ids):", ""]
            body = []
            for machine in machines:
                for snr in snrs:
                    cell = [r for r in mine if r["machine_type"] == machine and r["snr_db"] == snr]
                    if cell:
                        body.append([machine, _snr_label(snr),
                                     len({r["machine_id"] for r in cell}), *_system_cells(cell),
                                     _published_mimii([machine], snr)])
            lines += _table(["machine", "SNR", "ids", *system_header,
                             "published dense AE AUC"], body)
            lines += ["", "Per SNR (mean over machine types; published: mean over the same "
                      "types):", ""]
            body = []
            for snr in snrs:
                cell = [r for r in mine if r["snr_db"] == snr]
                present = sorted({r["machine_type"] for r in cell})
                body.append([_snr_label(snr), ", ".join(present), *_system_cells(cell),
                             _published_mimii(present, snr)])
            lines += _table(["SNR", "machines", *system_header, "published dense AE AUC"], body)
            lines += ["", "Per machine type (mean over SNRs):", ""]
            body = [[m, *_system_cells([r for r in mine if r["machine_type"] == m])]
                    for m in machines]
            lines += _table(["machine", *system_header], body)
        else:
            lines += ["Per machine type (mean over machine ids):", ""]
            body = []
            for machine in machines:
                cell = [r for r in mine if r["machine_type"] == machine]
                published = DCASE_PUBLISHED.get(machine, (None, None))
                body.append([machine, ", ".join(sorted({r["machine_id"] for r in cell})),
                             *_system_cells(cell), _f(published[0]), _f(published[1])])
            lines += _table(["machine", "ids", *system_header, "published AUC",
                             "published pAUC"], body)
        lines += ["", "Per system (mean over rows; seconds per model, features excluded; "
                  "DCASE rows of one machine type share one model):", ""]
        body = []
        for system in SYSTEMS:
            r = [x for x in mine if x["system"] == system]
            if r:
                body.append([system, len(r), *(_f(_mean(r, c)) for c in
                             ("auc", "pauc", "f1", "balanced_accuracy")),
                             _f(_mean(r, "fit_seconds"), 1), _f(_mean(r, "score_seconds"), 2),
                             _f(_mean(r, "n_epochs"), 1)])
        lines += _table(["system", "rows", "AUC", "pAUC", "F1", "balanced acc.", "fit s",
                         "score s", "epochs"], body)
        jobs = {(r["machine_type"], r["snr_db"]): float(r["feature_seconds"]) for r in mine}
        lines += ["", f"Features (read, mix, log-mel of train + test clips): "
                  f"{sum(jobs.values()):.1f} s over {len(jobs)} jobs.", ""]
        pngs = sorted(p.name for p in out.glob(f"*_{_slug(condition)}_*.png"))
        lines += [f"![{p}]({p})" for p in pngs]
    splits = sorted({r["split"] for r in rows})
    lines += ["", "## Notes", "", *[f"- split: {s}" for s in splits], *[f"- {n}" for n in notes]]
    (out / "results.md").write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--dataset", choices=("mimii", "dcase2020"), required=True)
    parser.add_argument("--machine", nargs="+", help="machine types (default: all found)")
    parser.add_argument("--snr", nargs="+", type=float, help="MIMII SNRs in dB (default: all)")
    parser.add_argument("--ids", nargs="+", help="machine ids, e.g. id_00 (default: all)")
    parser.add_argument("--quick", action="store_true", help="max_epochs 20 for both AEs")
    parser.add_argument("--max-epochs", type=int, help="override the epochs of both AEs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--mix-background", type=Path, metavar="DIR")
    parser.add_argument("--mix-snr", type=float, default=-6.0)
    parser.add_argument("--no-plots", action="store_true")
    args = parser.parse_args(argv)
    if args.dataset == "dcase2020" and args.snr:
        parser.error("--snr applies to MIMII only; DCASE 2020 has no SNR conditions.")
    if not args.root.is_dir():
        parser.error(f"--root {args.root} is not a folder.")
    if args.mix_background and not args.mix_background.is_dir():
        parser.error(f"--mix-background {args.mix_background} is not a folder.")
    epochs = args.max_epochs or (20 if args.quick else None)
    max_epochs = {"conv_ae": epochs or 100, "dense_ae": epochs or 50}
    out = args.out or REPO / "benchmarks" / "results" / (
        args.dataset + ("_quick" if args.quick else ""))
    out.mkdir(parents=True, exist_ok=True)
    condition = f"mix {args.mix_snr:+g} dB" if args.mix_background else "clean"
    command = shlex.join(["python", "benchmarks/mimii.py", *(sys.argv[1:] if argv is None
                                                             else argv)])
    settings = {"dataset": args.dataset, "max_epochs": max_epochs, "seed": args.seed}
    commands = check_settings(out, settings, command)

    notes = []
    if args.dataset == "mimii":
        jobs = mimii_jobs(args.root, args.machine, args.snr, args.ids, notes)
    else:
        jobs = dcase_jobs(args.root, args.machine, args.ids, notes)
    seen = set()
    for job in jobs:
        job.plotted = (job.machine_type, job.snr_text) not in seen
        seen.add((job.machine_type, job.snr_text))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    csv_path = out / "results.csv"
    done = {_key(r) for r in read_rows(csv_path)}
    progress = tqdm(jobs, desc=f"{args.dataset} {condition}", unit="job")
    for job in progress:
        todo = [s for s in SYSTEMS if any(
            (condition, s, job.machine_type, i, job.snr_text) not in done for i in job.ids)]
        progress.set_postfix_str(job.name)
        if not todo:
            tqdm.write(f"{job.name} ({condition}): already in results.csv, skipped")
            continue
        rows = [r for r in run_job(job, todo, condition, args, max_epochs, out)
                if _key({k: str(v) for k, v in r.items()}) not in done]
        append_rows(csv_path, rows)
        summary = ", ".join(f"{r['system']} {r['machine_id']} AUC {_f(r['auc'])}" for r in rows)
        tqdm.write(f"{job.name} ({condition}): {summary}")
    rows = read_rows(csv_path)
    if not rows:
        raise SystemExit("no job could run; see the notes above.")
    if not args.no_plots:
        plot_scores(out, args.dataset)
    write_markdown(out, rows, args, commands, notes, max_epochs)
    print(f"wrote {csv_path} and {out / 'results.md'}")


if __name__ == "__main__":
    main()
