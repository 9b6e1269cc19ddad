"""Evidence for the detector's default architecture: AUC on real recordings and speed.

Compares ``ConvAutoencoderDetector(architecture="conv1d")`` and ``"conv2d"`` with an
IsolationForest on mean log-mel features, on the real samples in ``../shared/data``:

- MIMII fan id_00 (channel 0): train on the first 10 normals (sorted), test on the other 10
  normals and the 20 abnormal clips;
- DCASE 2020 slider: train on ``slider/train``, test on ``slider/test``;

each clean and with real background sound mixed in: recordings of the other DCASE machine
types at -6 dB SNR (clean real clips are easy; ../shared/NOTES.md). Several seeds.

Usage: python benchmarks/architecture.py [--data DIR] [--seeds 3] [--max-epochs 100]
"""

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

from skaudio_ad import ConvAutoencoderDetector, MelSpectrogramTransformer
from skaudio_ad.datasets import mix_background
from skaudio_ad.io import load_audio

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def tasks(root):
    mimii = sorted((root / "mimii/fan/id_00/normal").glob("*.wav"))
    abnormal = sorted((root / "mimii/fan/id_00/abnormal").glob("*.wav"))
    slider = root / "dcase2020/dev_data/slider"
    slider_test = sorted((slider / "test").glob("*.wav"))
    yield (
        "mimii_fan_id00",
        mimii[:10],
        mimii[10:] + abnormal,
        np.r_[np.zeros(10), np.ones(len(abnormal))],
        "fan",
    )
    yield (
        "dcase_slider",
        sorted((slider / "train").glob("*.wav")),
        slider_test,
        np.array([p.name.startswith("anomaly") for p in slider_test], dtype=int),
        "slider",
    )


def backgrounds(root, exclude):
    paths = [
        p
        for p in sorted((root / "dcase2020/dev_data").glob("*/test/*.wav"))
        if p.parts[-3] != exclude
    ]
    return load_audio(paths, sr=16000, duration=10.0)


def mix(X, noise, snr_db, rng):
    """Each clip plus a random background clip at ``snr_db`` (:func:`mix_background`)."""
    picks = noise[rng.integers(0, len(noise), size=len(X))]
    return mix_background(X, picks, snr_db)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--snr", type=float, nargs="+", default=[None, -6.0])
    args = parser.parse_args()
    mel = MelSpectrogramTransformer()
    rows = []
    for name, train, test, y, machine in tasks(args.data):
        X_train_wave = load_audio(train, sr=16000, duration=10.0)
        X_test_wave = load_audio(test, sr=16000, duration=10.0)
        noise = backgrounds(args.data, machine)
        for snr in args.snr:
            rng = np.random.default_rng(0)
            if snr is None:
                condition, a, b = "clean", X_train_wave, X_test_wave
            else:
                condition = f"{snr:+.0f}dB"
                a, b = mix(X_train_wave, noise, snr, rng), mix(X_test_wave, noise, snr, rng)
            S_train, S_test = mel.transform(a), mel.transform(b)
            systems = {"iforest_mean_logmel": None, "conv1d": "conv1d", "conv2d": "conv2d"}
            for system, arch in systems.items():
                aucs, fit_s, epochs = [], [], []
                for seed in range(args.seeds):
                    t0 = time.perf_counter()
                    if arch is None:
                        model = IsolationForest(random_state=seed).fit(S_train.mean(axis=2))
                        score = -model.score_samples(S_test.mean(axis=2))
                    else:
                        model = ConvAutoencoderDetector(
                            architecture=arch, random_state=seed, max_epochs=args.max_epochs
                        ).fit(S_train)
                        score = -model.score_samples(S_test)
                        epochs.append(model.n_epochs_)
                    fit_s.append(time.perf_counter() - t0)
                    aucs.append(roc_auc_score(y, score))
                row = (
                    f"| {name} | {condition} | {system} | {np.mean(aucs):.3f} ± "
                    f"{np.std(aucs):.3f} | {np.mean(fit_s):.1f} | "
                    f"{np.mean(epochs) if epochs else '-'} |"
                )
                print(row, flush=True)
                rows.append(row)
    print("\n| task | condition | system | AUC (mean ± sd over seeds) | fit s | epochs |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
