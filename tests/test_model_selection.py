"""The scikit-learn model-selection recipe on labelled audio: normals train, both classes score."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline

from skaudio_ad import ConvAutoencoderDetector, MelSpectrogramTransformer
from skaudio_ad.datasets import make_machine_sounds
from skaudio_ad.metrics import ANOMALY_SCORERS

SR = 16000


@pytest.fixture(scope="module")
def labelled_audio():
    X, y = make_machine_sounds(24, 12, machine="pump", duration=2.0, snr_db=20.0, random_state=0)
    order = np.random.default_rng(0).permutation(len(y))
    return X[order], y[order]


def pipeline(**detector_params):
    detector = ConvAutoencoderDetector(
        normal_label=0,
        patch_frames=16,
        hidden_channels=16,
        latent_dim=8,
        max_epochs=15,
        validation_fraction=0.25,
        random_state=0,
    ).set_params(**detector_params)
    return Pipeline([("mel", MelSpectrogramTransformer(n_mels=32)), ("detector", detector)])


def test_cross_validate_trains_on_normals_and_scores_both_classes(labelled_audio):
    X, y = labelled_audio
    result = cross_validate(
        pipeline(),
        X,
        y,
        cv=StratifiedKFold(3),
        scoring=ANOMALY_SCORERS,
        return_estimator=True,
    )
    for estimator, (train, _) in zip(
        result["estimator"], StratifiedKFold(3).split(X, y), strict=True
    ):
        rows = train[estimator[-1].validation_indices_]
        assert np.all(y[rows] == 0)
        n_normals = int(np.sum(y[train] == 0))
        # Every normal training clip calibrates: out of fold, or held out for validation.
        assert estimator[-1].n_calibration_clips_ == n_normals
        assert len(rows) == int(n_normals * 0.25)
    # A detector that learned "normal" ranks the anomalies of every held-out fold first.
    assert np.mean(result["test_roc_auc"]) > 0.8


def test_grid_search_with_refit_f1_in_two_processes(labelled_audio, tmp_path):
    X, y = labelled_audio
    search = GridSearchCV(
        pipeline(memory=str(tmp_path), n_folds=2),
        {"detector__latent_dim": [4, 8], "detector__threshold": [0.0, 2.0]},
        scoring=ANOMALY_SCORERS,
        refit="f1",
        cv=StratifiedKFold(3),
        n_jobs=2,
    )
    search.fit(X, y)
    results = search.cv_results_
    assert search.best_score_ == pytest.approx(np.max(results["mean_test_f1"]))
    # Flagging every clip would give F1 = 2p / (1 + p) = 0.5 with a third anomalies.
    assert search.best_score_ > 0.5
    # The threshold changes the verdicts, not the ranking: equal AUC per latent size.
    for latent in (4, 8):
        rows = results["param_detector__latent_dim"] == latent
        assert np.ptp(results["mean_test_roc_auc"][rows]) < 1e-12
    best = search.best_estimator_[-1]
    # refit trained best_estimator_ on the normals only.
    assert np.all(y[best.validation_indices_] == 0)
    assert best.n_calibration_clips_ == int(np.sum(y == 0))
    assert len(best.validation_indices_) == int(np.sum(y == 0) * 0.25)
    assert set(np.unique(search.predict(X))) <= {-1, 1}


def test_grid_with_all_scorers_runs_the_network_twice_per_fold(labelled_audio, monkeypatch):
    # scikit-learn's response cache: decision_function once (roc_auc, partial_auc) and predict
    # once (f1, balanced_accuracy) per fold; each is one forward pass through _anomaly_scores,
    # the one place where scoring runs the network.
    X, y = labelled_audio
    calls = []
    anomaly_scores = ConvAutoencoderDetector._anomaly_scores

    def counted(self, X):
        calls.append(len(X))
        return anomaly_scores(self, X)

    monkeypatch.setattr(ConvAutoencoderDetector, "_anomaly_scores", counted)
    search = GridSearchCV(pipeline(max_epochs=2), {"detector__threshold": [1.0, 2.0]},
                          scoring=ANOMALY_SCORERS, refit=False, cv=StratifiedKFold(3))
    search.fit(X, y)
    n_folds = 3 * 2
    assert len(calls) <= 2 * n_folds, calls
    assert sum(calls) == 2 * len(y) * 2  # every test clip scored twice per candidate
    assert np.all(np.isfinite(search.cv_results_["mean_test_roc_auc"]))
