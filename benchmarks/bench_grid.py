"""Wall time of the 3x3 GridSearchCV over latent size and threshold k, with and without memory.

The grid of the user guide: ``{"detector__latent_dim": [8, 16, 32], "detector__threshold":
[1.0, 2.0, 3.0]}`` over ``Pipeline([mel, ConvAutoencoderDetector(normal_label=0)])`` with
``StratifiedKFold(3)`` and ``refit="f1"`` on labelled synthetic pump sounds. With
``memory=<folder>`` a change of k reuses the trained network, so the grid trains 3 networks
per fold instead of 9. Both runs happen in this process, one after the other; the mel features
are computed once beforehand so that the figures are training and scoring only.

Usage: python benchmarks/bench_grid.py [--quick] [--n-jobs 1]
"""

import argparse
import tempfile
import time

import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from skaudio_ad import ConvAutoencoderDetector, MelSpectrogramTransformer
from skaudio_ad.datasets import make_machine_sounds
from skaudio_ad.metrics import ANOMALY_SCORERS

GRID = {"latent_dim": [8, 16, 32], "threshold": [1.0, 2.0, 3.0]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter clips")
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args()
    n_normal, n_anomalous, duration = (30, 15, 2.0) if args.quick else (120, 60, 10.0)
    X, y = make_machine_sounds(
        n_normal, n_anomalous, machine="pump", duration=duration, snr_db=0.0, random_state=0
    )
    S = MelSpectrogramTransformer().transform(X)
    print(f"data: {n_normal} normal + {n_anomalous} anomalous clips of {duration:g} s, {S.shape}")
    figures = {}
    best = {}
    for label, memory in (("without memory", None), ("with memory", "tmp")):
        with tempfile.TemporaryDirectory() as folder:
            detector = ConvAutoencoderDetector(
                normal_label=0, random_state=0, memory=folder if memory else None
            )
            search = GridSearchCV(
                detector,
                GRID,
                scoring=ANOMALY_SCORERS,
                refit="f1",
                cv=StratifiedKFold(3),
                n_jobs=args.n_jobs,
            )
            start = time.perf_counter()
            search.fit(S, y)
            figures[label] = time.perf_counter() - start
            best[label] = (search.best_params_, search.best_score_)
            auc = search.cv_results_["mean_test_roc_auc"]
        print(
            f"{label:>15}: {figures[label]:6.1f} s  best {best[label][0]} "
            f"F1 {best[label][1]:.3f}; mean AUC per candidate {np.round(auc, 3).tolist()}"
        )
    assert best["with memory"] == best["without memory"], "memory changed the results"
    print(f"grid_speedup_with_memory={figures['without memory'] / figures['with memory']:.2f}")


if __name__ == "__main__":
    main()
