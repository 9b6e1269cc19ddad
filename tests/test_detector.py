"""ConvAutoencoderDetector: scikit-learn's contract, planted anomalies, determinism, training."""

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

import skaudio_ad
from skaudio_ad import ConvAutoencoderDetector

# One small shape for every test, so that JAX compiles each step once per session.
N_MELS, N_FRAMES, PATCH = 16, 64, 16
SMALL = dict(patch_frames=PATCH, hidden_channels=16, latent_dim=8, max_epochs=30)
#: SMALL with two fold networks instead of five, for tests that fit several detectors and
#: compare them with each other (half the training members, the same assertions).
TWO_FOLDS = {**SMALL, "n_folds": 2}
#: The 0.1 release's behaviour: reconstruction error only, early stopping and calibration on
#: held-out clips.
LEGACY = dict(
    evidence="reconstruction", n_folds=1, validation_fraction=0.1, max_steps=None,
    score_transform=None,
)


def spectrograms(n, seed, anomaly=False):
    """Log-mel-like clips: a fixed spectral profile, a periodic time pattern, noise.

    Anomalies add a tonal band (mel bins 10-12) during frames 30-40 and lose the rhythm.
    """
    rng = np.random.default_rng(seed)
    mel = np.arange(N_MELS)[:, None]
    t = np.arange(N_FRAMES)[None, :]
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1))
    profile = -40.0 + 6.0 * np.sin(mel / 3.0)
    rhythm = 4.0 * np.sin(2 * np.pi * t / 8.0 + phase) * (mel < 8)
    X = profile + rhythm + rng.normal(0.0, 1.0, size=(n, N_MELS, N_FRAMES))
    if anomaly:
        X[:, 10:13, 30:40] += 12.0
    return X.astype(np.float32)


@pytest.fixture(scope="module")
def data():
    X_train = spectrograms(60, seed=0)
    X_test = np.concatenate([spectrograms(20, seed=1), spectrograms(20, seed=2, anomaly=True)])
    y_test = np.r_[np.zeros(20), np.ones(20)]
    return X_train, X_test, y_test


@pytest.fixture(scope="module")
def fitted(data):
    return ConvAutoencoderDetector(**SMALL, random_state=0).fit(data[0])


@parametrize_with_checks(
    [ConvAutoencoderDetector(max_epochs=5, hidden_channels=8, latent_dim=4, random_state=0)]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_planted_anomalies_are_ranked_and_flagged(fitted, data):
    _, X_test, y_test = data
    scores = fitted.score_samples(X_test)
    assert roc_auc_score(y_test, -scores) > 0.95
    labels = fitted.predict(X_test)
    assert labels.dtype.kind == "i"
    assert set(np.unique(labels)) <= {-1, 1}
    assert np.mean(labels[y_test == 1] == -1) > 0.9
    assert np.mean(labels[y_test == 0] == 1) > 0.8


def test_sign_conventions(fitted, data):
    X_test = data[1]
    scores = fitted.score_samples(X_test)
    assert scores.dtype == np.float64 and scores.shape == (len(X_test),)
    np.testing.assert_array_equal(fitted.decision_function(X_test), scores - fitted.offset_)
    # The combined score is not the mean frame error (that identity holds for
    # evidence="reconstruction", checked below with the 0.1 state), but it ranks alike here.
    errors = fitted.frame_errors(X_test)
    assert roc_auc_score(data[2], errors.mean(axis=1)) > 0.9
    assert fitted.offset_ == pytest.approx(
        -(fitted.error_mean_ + fitted.threshold * fitted.error_std_)
    )
    np.testing.assert_array_equal(
        fitted.predict(X_test), np.where(fitted.decision_function(X_test) < 0, -1, 1)
    )


def test_threshold_is_k_std_above_mean_of_validation_errors(data):
    X_train = data[0]
    detector = ConvAutoencoderDetector(
        **SMALL, **{**LEGACY, "validation_fraction": 0.25}, random_state=0
    )
    detector.fit(X_train)
    # The calibration clips are the held-out 25 %, not the training clips.
    assert detector.n_calibration_clips_ == 15
    detector.set_threshold(3.0)
    assert detector.threshold == 3.0
    assert detector.offset_ == pytest.approx(-(detector.error_mean_ + 3 * detector.error_std_))
    no_valid = ConvAutoencoderDetector(**SMALL, random_state=0)
    assert no_valid.fit(X_train).n_calibration_clips_ == len(X_train)
    assert all(h["valid_loss"] is None for h in no_valid.history_)


def test_higher_threshold_flags_fewer(fitted, data):
    X_test = data[1]
    low = clone(fitted).set_params(threshold=0.0)
    counts = []
    for k in (0.0, 2.0, 50.0):
        model = pickle.loads(pickle.dumps(fitted)).set_threshold(k)
        counts.append(int(np.sum(model.predict(X_test) == -1)))
    assert counts[0] >= counts[1] >= counts[2]
    assert counts[0] > counts[2]
    assert low.threshold == 0.0


def test_frame_errors_locate_the_anomaly_in_time(fitted, data):
    anomalous = data[1][data[2] == 1]
    errors = fitted.frame_errors(anomalous)
    assert errors.shape == (len(anomalous), N_FRAMES)
    peak = errors.argmax(axis=1)
    assert np.all((peak >= 28) & (peak < 42))


def test_determinism_and_batch_independence(fitted, data):
    X_train, X_test, _ = data
    again = ConvAutoencoderDetector(**SMALL, random_state=0).fit(X_train)
    np.testing.assert_array_equal(again.score_samples(X_test), fitted.score_samples(X_test))
    # A clip's score does not depend on the clips scored with it.
    full = fitted.score_samples(X_test)
    np.testing.assert_array_equal(fitted.score_samples(X_test[7:9]), full[7:9])
    np.testing.assert_array_equal(fitted.score_samples(X_test[::-1]), full[::-1])
    other = ConvAutoencoderDetector(**SMALL, random_state=1).fit(X_train)
    assert not np.array_equal(other.score_samples(X_test), full)


def test_fitted_attributes_are_plain_and_json_friendly(fitted):
    json.dumps(fitted.history_)
    assert [h["epoch"] for h in fitted.history_] == list(range(1, fitted.n_epochs_ + 1))
    assert {"epoch", "train_loss", "valid_loss", "seconds"} <= set(fitted.history_[0])
    assert 1 <= fitted.best_epoch_ <= fitted.n_epochs_
    leaves = []

    def walk(tree):
        for value in tree.values():
            walk(value) if isinstance(value, dict) else leaves.append(value)

    walk(fitted.params_)
    assert leaves and all(type(leaf) is np.ndarray for leaf in leaves)
    assert all(type(leaf) is np.ndarray for leaf in fitted.optimizer_state_)
    assert fitted.n_features_in_ == N_MELS
    assert fitted.feature_mean_.shape == (N_MELS,)


def test_early_stopping_restores_best_weights(data):
    X_train = data[0]
    detector = ConvAutoencoderDetector(
        **{**SMALL, "max_epochs": 200}, **LEGACY, patience=3, random_state=0
    )
    detector.fit(X_train)
    assert detector.n_epochs_ < 200
    losses = [h["valid_loss"] for h in detector.history_]
    assert detector.best_epoch_ == int(np.argmin(losses)) + 1
    assert detector.n_epochs_ - detector.best_epoch_ == 3


def test_pickle_round_trip_in_a_fresh_process(fitted, data, tmp_path):
    X_test = data[1][:5]
    model_path, data_path = tmp_path / "model.pkl", tmp_path / "X.npy"
    model_path.write_bytes(pickle.dumps(fitted))
    np.save(data_path, X_test)
    code = (
        "import pickle, sys, numpy as np\n"
        f"m = pickle.loads(open({str(model_path)!r}, 'rb').read())\n"
        f"np.save(sys.argv[1], m.score_samples(np.load({str(data_path)!r})))\n"
    )
    out = tmp_path / "scores.npy"
    subprocess.run([sys.executable, "-c", code, str(out)], check=True)
    np.testing.assert_array_equal(np.load(out), fitted.score_samples(X_test))


def test_partial_fit_streams_chunks(data):
    X_train, X_test, y_test = data
    detector = ConvAutoencoderDetector(**SMALL, random_state=0)
    for _ in range(12):
        for chunk in np.array_split(X_train, 3):
            detector.partial_fit(chunk)
    assert detector.n_epochs_ == 36
    assert all(h["valid_loss"] is None for h in detector.history_)
    assert detector.n_calibration_clips_ == 20
    assert roc_auc_score(y_test, -detector.score_samples(X_test)) > 0.9


def test_warm_start_continues_from_current_weights(data):
    X_train = data[0]
    detector = ConvAutoencoderDetector(**{**SMALL, "max_epochs": 2}, random_state=0)
    detector.fit(X_train)
    first_params = pickle.loads(pickle.dumps(detector.params_))
    detector.set_params(warm_start=True).fit(X_train)
    assert detector.n_epochs_ == 4
    assert [h["epoch"] for h in detector.history_] == [1, 2, 3, 4]
    # Continuing starts from the trained weights: its first loss is below a fresh start's.
    cold = ConvAutoencoderDetector(**{**SMALL, "max_epochs": 2}, random_state=0).fit(X_train)
    assert detector.history_[2]["train_loss"] < cold.history_[0]["train_loss"]
    assert not np.array_equal(first_params["head"]["bias"], detector.params_["head"]["bias"])


def test_nan_loss_stops_with_advice(data):
    detector = ConvAutoencoderDetector(**SMALL, learning_rate=1e8, random_state=0)
    with pytest.raises(FloatingPointError, match="learning_rate"):
        detector.fit(data[0])


def test_two_and_three_dimensional_input():
    rng = np.random.default_rng(0)
    X2 = rng.normal(size=(200, 6)).astype(np.float32)
    detector = ConvAutoencoderDetector(max_epochs=20, hidden_channels=8, random_state=0).fit(X2)
    assert detector.n_features_in_ == 6 and detector.patch_frames_ == 1
    far = X2[:5] + 8.0
    assert np.all(detector.score_samples(far) < detector.score_samples(X2[:5]))
    with pytest.raises(ValueError, match="features"):
        detector.score_samples(X2[:, :4])
    with pytest.raises(ValueError):
        detector.score_samples(X2[0])


def test_input_errors(fitted):
    with pytest.raises(ValueError, match="frames"):
        fitted.score_samples(np.zeros((2, N_MELS, PATCH - 1)))
    with pytest.raises(ValueError, match="NaN"):
        bad = spectrograms(2, seed=3)
        bad[1, 2, 3] = np.nan
        fitted.score_samples(bad)
    with pytest.raises(ValueError, match="4-D|shape"):
        fitted.score_samples(np.zeros((2, 1, N_MELS, N_FRAMES)))


def test_normal_label_trains_on_normals_only(data):
    X_train, X_test, y_test = data
    X = np.concatenate([X_train, X_test[y_test == 1]])
    y = np.r_[np.zeros(len(X_train)), np.ones(int(y_test.sum()))].astype(int)
    labelled = ConvAutoencoderDetector(**TWO_FOLDS, normal_label=0, random_state=0).fit(X, y)
    normals_only = ConvAutoencoderDetector(**TWO_FOLDS, random_state=0).fit(X_train)
    np.testing.assert_array_equal(
        labelled.score_samples(X_test), normals_only.score_samples(X_test)
    )
    # Without normal_label, y is ignored (scikit-learn's convention) and anomalies train too.
    ignored = ConvAutoencoderDetector(**TWO_FOLDS, random_state=0).fit(X, y)
    assert not np.array_equal(ignored.score_samples(X_test), normals_only.score_samples(X_test))
    with pytest.raises(ValueError, match="normal_label"):
        ConvAutoencoderDetector(**TWO_FOLDS, normal_label=5).fit(X, y)


def test_verbose_reports_each_epoch(data, caplog, capsys):
    X_train = data[0][:20]
    with caplog.at_level("INFO", logger="skaudio_ad"):
        ConvAutoencoderDetector(**{**SMALL, "max_epochs": 3}, verbose=2, random_state=0).fit(
            X_train
        )
    assert sum("train_loss" in r.getMessage() for r in caplog.records) == 3
    ConvAutoencoderDetector(**{**SMALL, "max_epochs": 3}, verbose=1, random_state=0).fit(X_train)
    assert "epochs" in capsys.readouterr().err
    ConvAutoencoderDetector(**{**SMALL, "max_epochs": 3}, random_state=0).fit(X_train)
    assert capsys.readouterr() == ("", "")


def test_conv2d_architecture(data):
    X_train, X_test, y_test = data
    # Two folds: the conv2d gradients are slow to compile and run on XLA:CPU.
    detector = ConvAutoencoderDetector(**TWO_FOLDS, architecture="conv2d", random_state=0)
    scores = detector.fit(X_train).score_samples(X_test)
    assert roc_auc_score(y_test, -scores) > 0.9
    # The planted anomalies are ranked first even by an untrained network: that it learns is
    # the training loss (1.00 at the first epoch, 0.56 at the last; flat when it does not).
    losses = [h["train_loss"] for h in detector.history_]
    assert losses[-1] < 0.8 * losses[0]


def test_invalid_parameters_name_the_parameter(data):
    with pytest.raises(ValueError, match="latent_dim"):
        ConvAutoencoderDetector(latent_dim=0).fit(data[0])
    with pytest.raises(ValueError, match="architecture"):
        ConvAutoencoderDetector(architecture="lstm").fit(data[0])


def test_memory_trains_once_per_network(data, tmp_path, monkeypatch):
    from skaudio_ad import _detector

    calls = []
    original = _detector._train_network

    def counting(key, params, *, X, verbose):
        calls.append(1)
        return original(key, params, X=X, verbose=verbose)

    monkeypatch.setattr(_detector, "_train_network", counting)
    X_train, X_test, _ = data
    plain = ConvAutoencoderDetector(**TWO_FOLDS, threshold=3.0, random_state=0).fit(X_train)
    offsets = []
    for k in (1.0, 2.0, 3.0):
        cached = ConvAutoencoderDetector(
            **TWO_FOLDS, threshold=k, memory=str(tmp_path), random_state=0
        )
        offsets.append(cached.fit(X_train).offset_)
    assert len(calls) == 1
    assert offsets[0] > offsets[1] > offsets[2]
    np.testing.assert_array_equal(cached.score_samples(X_test), plain.score_samples(X_test))
    assert cached.offset_ == plain.offset_
    # The evidence changes the scoring, not the network: still one training, and the scores
    # of a detector calibrated for that evidence from scratch.
    plain = ConvAutoencoderDetector(**TWO_FOLDS, evidence="reconstruction", random_state=0)
    cached = ConvAutoencoderDetector(
        **TWO_FOLDS, evidence="reconstruction", memory=str(tmp_path), random_state=0
    )
    plain.fit(X_train), cached.fit(X_train)
    assert len(calls) == 1
    assert not hasattr(cached, "profile_reference_")
    np.testing.assert_array_equal(cached.score_samples(X_test), plain.score_samples(X_test))
    assert cached.offset_ == plain.offset_
    # So does the score transform: without it, the same networks rank the clips alike (the
    # transform is strictly increasing: the ROC AUC is the same, only the threshold moves).
    transformed = ConvAutoencoderDetector(**TWO_FOLDS, memory=str(tmp_path), random_state=0)
    raw = ConvAutoencoderDetector(
        **TWO_FOLDS, score_transform=None, memory=str(tmp_path), random_state=0
    )
    transformed.fit(X_train), raw.fit(X_train)
    assert len(calls) == 1
    assert not hasattr(raw, "score_lambda_") and transformed.score_lambda_ < 1.0
    np.testing.assert_array_equal(
        np.argsort(raw.score_samples(X_test)), np.argsort(transformed.score_samples(X_test))
    )
    assert raw.offset_ != transformed.offset_
    smaller = {**TWO_FOLDS, "latent_dim": 4}
    ConvAutoencoderDetector(**smaller, memory=str(tmp_path), random_state=0).fit(X_train)
    assert len(calls) == 2


def test_validation_indices_point_at_held_out_normals(data):
    X_train, X_test, y_test = data
    X = np.concatenate([X_test[y_test == 1][:5], X_train])
    y = np.r_[np.ones(5), np.zeros(len(X_train))].astype(int)
    detector = ConvAutoencoderDetector(**SMALL, **LEGACY, normal_label=0, random_state=0)
    rows = detector.fit(X, y).validation_indices_
    assert len(rows) == detector.n_calibration_clips_ == 6
    assert np.all(y[rows] == 0)
    errors = -detector.score_samples(X[rows])
    assert detector.error_mean_ == pytest.approx(errors.mean())


def test_too_few_held_out_clips_calibrate_on_all_with_a_warning(data):
    X_train = data[0][:20]  # 10 % of 20 clips: 2 held out
    detector = ConvAutoencoderDetector(**{**SMALL, "max_epochs": 2}, **LEGACY, random_state=0)
    with pytest.warns(UserWarning, match="Only 2 of 20 clips"):
        detector.fit(X_train)
    assert detector.n_calibration_clips_ == 20
    assert detector.error_std_ > 0


def test_default_calibrates_out_of_fold_on_every_clip(fitted, data):
    X_train, X_test, y_test = data
    assert fitted.n_folds_ == 5 and fitted.n_calibration_clips_ == len(X_train)
    assert len(fitted.validation_indices_) == 0
    # The threshold rule holds for the combined score: fresh normals are rarely flagged.
    fresh = spectrograms(40, seed=7)
    assert np.mean(fitted.predict(fresh) == -1) <= 0.1
    assert np.all(fitted.predict(X_test[y_test == 1]) == -1)
    assert fitted.offset_ == pytest.approx(-(fitted.error_mean_ + 2.0 * fitted.error_std_))


def test_fold_networks_never_see_their_clips(data):
    X_train = data[0][:20]
    detector = ConvAutoencoderDetector(**{**SMALL, "max_epochs": 2}, n_folds=4, random_state=0)
    detector.fit(X_train)
    assert detector.n_folds_ == 4
    stacked = detector.fold_params_["head"]["kernel"]
    assert stacked.shape[0] == 4 and not np.array_equal(stacked[0], stacked[1])
    assert detector.profile_reference_.shape == (20, N_MELS)
    # The default evidence="profile" sums two evidences and keeps no spectral statistics.
    assert detector.evidence_mean_.shape == (2,) and not hasattr(detector, "spectrum_reference_")


def test_members_in_turn_take_the_steps_of_the_vmapped_members(monkeypatch):
    import jax

    from skaudio_ad import _training
    from skaudio_ad._network import NetworkConfig

    config = NetworkConfig("conv1d", N_MELS, PATCH, 8, 16)
    X = jax.device_put(np.random.default_rng(0).normal(size=(6, N_FRAMES, N_MELS)))
    X = X.astype(np.float32)
    rng = np.random.default_rng(1)
    # Unequal patch lists: the shorter member's steps are padded with masked patches.
    tiles = [(rng.integers(0, 6, n), rng.integers(0, N_FRAMES - PATCH, n)) for n in (40, 25)]
    # The backend's choice on the CPU is members in turn.
    assert _training._members_in_turn(X)
    results = {}
    for in_turn in (True, False):
        monkeypatch.setattr(_training, "_members_in_turn", lambda X, v=in_turn: v)
        params, opt_state = _training.init_members(config, 1e-2, jax.random.key(0), 2)
        params, opt_state, losses = _training.run_members_epoch(
            config, 1e-2, 16, params, opt_state, X, tiles, np.random.default_rng(2)
        )
        results[in_turn] = (jax.device_get(params), jax.device_get(opt_state), losses)
    turn, vmapped = results[True], results[False]
    assert turn[2].shape == (2,)
    np.testing.assert_allclose(turn[2], vmapped[2], rtol=1e-5)
    for a, b in zip(jax.tree.leaves(turn[:2]), jax.tree.leaves(vmapped[:2]), strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # Three steps at this learning rate moved the weights well beyond that tolerance.
    init, _ = _training.init_members(config, 1e-2, jax.random.key(0), 2)
    assert np.abs(turn[0]["head"]["kernel"] - init["head"]["kernel"]).max() > 1e-3


def test_error_map_refines_frame_errors(fitted, data):
    X_test = data[1][-3:]
    maps = fitted.error_map(X_test)
    assert maps.shape == (3, N_MELS, N_FRAMES) and maps.dtype == np.float64
    np.testing.assert_allclose(maps.mean(axis=1), fitted.frame_errors(X_test), rtol=1e-5)
    # The planted band (mel bins 10-12, frames 30-40) is where the error is.
    band = maps[:, 10:13, 30:40].mean()
    assert band > 5 * maps[:, :8, :].mean()


def test_non_finite_scores_and_too_few_clips_raise(fitted, data):
    X = data[1][:3].copy()
    X[1] = 1e30
    with pytest.raises(ValueError, match=r"rows \[1\]"):
        fitted.score_samples(X)
    with pytest.raises(ValueError, match="at least 2 normal clips"):
        ConvAutoencoderDetector(**SMALL).fit(data[0][:1])


def test_validate_state_names_what_is_wrong(fitted):
    fitted._validate_state()
    broken = pickle.loads(pickle.dumps(fitted))
    broken.params_["head"]["kernel"] = broken.params_["head"]["kernel"][:, :, :-1]
    with pytest.raises(ValueError, match="head/kernel"):
        broken._validate_state()
    broken = pickle.loads(pickle.dumps(fitted))
    broken.feature_mean_ = broken.feature_mean_.copy()
    broken.feature_mean_[0] = np.nan
    with pytest.raises(ValueError, match="feature_mean_"):
        broken._validate_state()
    broken = pickle.loads(pickle.dumps(fitted))
    del broken.evidence_scale_
    with pytest.raises(ValueError, match="evidence_scale_"):
        broken._validate_state()


def test_a_release_0_1_state_scores_by_reconstruction_error(data):
    X_train, X_test, _ = data
    legacy = ConvAutoencoderDetector(**SMALL, **LEGACY, random_state=0).fit(X_train)
    state = dict(pickle.loads(pickle.dumps(legacy)).__getstate__())
    for name in ("evidence", "n_folds", "max_steps", "score_transform", "fold_params_"):
        state.pop(name)
    state["optimizer_state_"] = [leaf[0] for leaf in state["optimizer_state_"]]
    old = ConvAutoencoderDetector.__new__(ConvAutoencoderDetector)
    old.__setstate__(state)
    assert old.evidence == "reconstruction" and old.n_folds_ == 0
    old._validate_state()
    np.testing.assert_array_equal(old.score_samples(X_test), legacy.score_samples(X_test))
    np.testing.assert_array_equal(
        old.score_samples(X_test), -old.frame_errors(X_test).mean(axis=1)
    )


def test_interpolation_hides_the_centre_frames_from_the_network():
    import jax
    from flax import nnx

    from skaudio_ad import _training
    from skaudio_ad._network import NetworkConfig, build_network

    rng = np.random.default_rng(0)
    P = rng.normal(size=(3, PATCH, N_MELS)).astype(np.float32)
    for masked in (4, 0):
        config = NetworkConfig("conv1d", N_MELS, PATCH, 8, 16, masked_frames=masked)
        first, length = config.target_window
        params = nnx.state(build_network(config, jax.random.key(0)), nnx.Param)
        fn = _training.inference(config).patch_errors
        Q = P.copy()
        Q[:, 6:10] += 5.0  # the centre 4 frames of the 16
        e_p = np.asarray(fn(params, P), dtype=np.float64)[:, 6 - first : 10 - first]
        e_q = np.asarray(fn(params, Q), dtype=np.float64)[:, 6 - first : 10 - first]
        # With one prediction o for both: e_p = d**2 and e_q = (d - 5)**2, d = o - centre.
        d = (25.0 - (e_q - e_p)) / 10.0
        same_prediction = np.allclose(d**2, e_p, atol=1e-3)
        if masked:
            assert (first, length) == (6, 4)
            assert e_p.shape == (3, 4, N_MELS)
            assert same_prediction
        else:
            assert (first, length) == (0, PATCH)
            assert not same_prediction  # a reconstruction sees the frames it rebuilds


def test_interpolation_target_scores_locates_and_round_trips(data, tmp_path):
    from skaudio_ad import load, save

    X_train, X_test, y_test = data
    detector = ConvAutoencoderDetector(**SMALL, target="interpolation", random_state=0)
    detector.fit(X_train)
    assert detector._hop == PATCH // 4
    assert roc_auc_score(y_test, -detector.score_samples(X_test)) > 0.9
    errors = detector.frame_errors(X_test[y_test == 1])
    assert errors.shape == (20, N_FRAMES) and np.all(np.isfinite(errors))
    assert np.all((errors.argmax(axis=1) >= 28) & (errors.argmax(axis=1) < 42))
    # The first and last frames are never a patch's centre: they take their nearest one's.
    first, length = detector._config.target_window
    np.testing.assert_array_equal(errors[:, :first], np.repeat(errors[:, [first]], first, 1))
    np.testing.assert_allclose(
        detector.error_map(X_test[:3]).mean(axis=1), detector.frame_errors(X_test[:3]),
        rtol=1e-5,
    )
    save(detector, tmp_path / "interp.skops")
    loaded = load(tmp_path / "interp.skops")
    assert loaded.target == "interpolation"
    np.testing.assert_array_equal(loaded.score_samples(X_test), detector.score_samples(X_test))


def test_gaussian_loss_learns_where_normal_sound_is_unpredictable(data, tmp_path):
    from flax import nnx

    from skaudio_ad import _training, load, save

    X_train, X_test, y_test = data
    detector = ConvAutoencoderDetector(**TWO_FOLDS, loss="gaussian", random_state=0)
    detector.fit(X_train)
    # Bins 0-7 carry a rhythm the network can predict; bins 8-15 are noise it cannot.
    config = detector._config
    Z = detector._standardise(X_test[:20].transpose(0, 2, 1), np.arange(20))
    patches = Z[:, :PATCH]
    out = nnx.merge(_training.inference(config).graphdef, detector._device_params())(patches)
    mean, log_var = _training._gaussian_head(out, N_MELS)
    log_var = np.asarray(log_var)
    assert log_var[..., :8].mean() < log_var[..., 8:].mean() - 0.5
    # Its errors are squared errors in units of that predicted variance.
    np.testing.assert_allclose(
        np.asarray(_training.inference(config).patch_errors(detector._device_params(), patches)),
        np.exp(-log_var) * (np.asarray(mean) - patches) ** 2,
        rtol=1e-4, atol=1e-6,
    )
    assert roc_auc_score(y_test, -detector.score_samples(X_test)) > 0.9
    errors = detector.frame_errors(X_test[y_test == 1])
    peaks = errors.argmax(axis=1)
    assert np.all(errors >= 0) and np.all((peaks >= 28) & (peaks < 42))
    save(detector, tmp_path / "gaussian.skops")
    loaded = load(tmp_path / "gaussian.skops")
    assert loaded.loss == "gaussian"
    np.testing.assert_array_equal(loaded.score_samples(X_test), detector.score_samples(X_test))


@pytest.mark.parametrize("architecture", ["conv2d", "dense"])
def test_gaussian_loss_on_every_architecture(data, architecture):
    X_train, X_test, y_test = data
    params = {"patch_frames": 5, "hidden_channels": 64} if architecture == "dense" else {}
    detector = ConvAutoencoderDetector(
        **{**TWO_FOLDS, "max_epochs": 3, **params}, architecture=architecture, loss="gaussian",
        random_state=0,
    ).fit(X_train[:20])
    maps = detector.error_map(X_test[:2])
    assert maps.shape == (2, N_MELS, N_FRAMES) and np.all(np.isfinite(maps)) and np.all(maps >= 0)
    plain = ConvAutoencoderDetector(
        **{**TWO_FOLDS, "max_epochs": 3, **params}, architecture=architecture, random_state=0
    ).fit(X_train[:20])
    # Twice the outputs: a mean and a log-variance for every value.
    last = {"conv2d": lambda p: p["head"]["kernel"], "dense": lambda p: p["layers"][5]["kernel"]}
    assert last[architecture](detector.params_).shape[-1] == 2 * last[architecture](
        plain.params_).shape[-1]


def test_gaussian_validation_loss_is_the_likelihood(data):
    from skaudio_ad import _training

    X_train = data[0][:12]
    detector = ConvAutoencoderDetector(
        **{**TWO_FOLDS, "max_epochs": 2}, loss="gaussian", validation_fraction=0.25,
        random_state=0,
    ).fit(X_train)
    X_valid = X_train[detector.validation_indices_]
    Z = detector._standardise(X_valid.transpose(0, 2, 1), detector.validation_indices_)
    params = detector._device_params()
    nll = _training.frame_errors(detector._config, params, Z, detector._hop, nll=True).mean()
    scaled = _training.frame_errors(detector._config, params, Z, detector._hop).mean()
    assert not np.isclose(nll, scaled)
    best = detector.history_[detector.best_epoch_ - 1]["valid_loss"]
    assert best == pytest.approx(nll, rel=1e-5)


def test_error_profiles_are_standardised_per_band_before_the_knn_distance(fitted, data):
    from skaudio_ad import _evidence

    reference = fitted.profile_reference_
    np.testing.assert_allclose(fitted.profile_mean_, reference.mean(axis=0))
    np.testing.assert_allclose(fitted.profile_scale_, reference.std(axis=0, ddof=1) + 1e-3)
    # The profile evidence of new clips: kNN distance in the standardised bands.
    X_test = data[1]
    Z = fitted._standardise(X_test.transpose(0, 2, 1), np.arange(len(X_test)))
    _, profiles = fitted._evidence(fitted._device_params(), Z)
    scaled = (reference - fitted.profile_mean_) / fitted.profile_scale_
    expected = _evidence.knn_distance(
        scaled, (profiles - fitted.profile_mean_) / fitted.profile_scale_
    )
    unscaled = _evidence.knn_distance(reference, profiles)
    errors = fitted.frame_errors(X_test).mean(axis=1)
    values = np.column_stack([errors, expected])
    manual = ((values - fitted.evidence_mean_) / fitted.evidence_scale_).sum(axis=1)
    manual = _evidence.transform_scores(
        manual, fitted.score_centre_, fitted.score_scale_, fitted.score_lambda_
    )
    np.testing.assert_allclose(-fitted.score_samples(X_test), manual, rtol=1e-4, atol=1e-6)
    assert not np.allclose(expected, unscaled)


def test_the_evidence_options_score_the_same_networks(data, tmp_path):
    from skaudio_ad import _evidence

    X_train, X_test, _ = data
    params = dict(**SMALL, max_steps=40, random_state=0, memory=str(tmp_path))
    default = ConvAutoencoderDetector(**params).fit(X_train[:20])
    combined = ConvAutoencoderDetector(**params, evidence="combined").fit(X_train[:20])
    # The cached networks: evidence only changes how they score.
    np.testing.assert_array_equal(
        combined.frame_errors(X_test), default.frame_errors(X_test)
    )
    assert combined.evidence_mean_.shape == (3,)
    assert combined.spectrum_reference_.shape == (20, 2 * N_MELS)
    Z = combined._standardise(X_test.transpose(0, 2, 1), np.arange(len(X_test)))
    _, profiles = combined._evidence(combined._device_params(), Z)
    values = np.column_stack([
        combined.frame_errors(X_test).mean(axis=1),
        _evidence.knn_distance(combined._scaled_profiles(combined.profile_reference_),
                               combined._scaled_profiles(profiles)),
        _evidence.knn_distance(combined.spectrum_reference_, _evidence.spectral_statistics(Z)),
    ])
    manual = ((values - combined.evidence_mean_) / combined.evidence_scale_).sum(axis=1)
    manual = _evidence.transform_scores(
        manual, combined.score_centre_, combined.score_scale_, combined.score_lambda_
    )
    np.testing.assert_allclose(-combined.score_samples(X_test), manual, rtol=1e-4, atol=1e-6)
    # The two-evidence default is the same sum without the third column.
    two = ((values[:, :2] - default.evidence_mean_) / default.evidence_scale_).sum(axis=1)
    two = _evidence.transform_scores(
        two, default.score_centre_, default.score_scale_, default.score_lambda_
    )
    np.testing.assert_allclose(-default.score_samples(X_test), two, rtol=1e-4, atol=1e-6)
    # "profile-only" is the second column alone, standardised and transformed.
    alone = ConvAutoencoderDetector(**params, evidence="profile-only").fit(X_train[:20])
    assert alone.evidence_mean_.shape == (1,) and not hasattr(alone, "spectrum_reference_")
    one = (values[:, 1] - alone.evidence_mean_[0]) / alone.evidence_scale_[0]
    one = _evidence.transform_scores(
        one, alone.score_centre_, alone.score_scale_, alone.score_lambda_
    )
    np.testing.assert_allclose(-alone.score_samples(X_test), one, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(alone.evidence_mean_, default.evidence_mean_[1:])
    skaudio_ad.save(alone, tmp_path / "alone.skops")
    loaded = skaudio_ad.load(tmp_path / "alone.skops")
    assert loaded.evidence == "profile-only"
    np.testing.assert_array_equal(loaded.score_samples(X_test), alone.score_samples(X_test))
    # Refitted under another evidence, no state of the previous one is left behind.
    combined.set_params(evidence="profile", memory=None).fit(X_train[:20])
    assert not hasattr(combined, "spectrum_reference_") and combined.evidence_mean_.shape == (2,)
    combined._validate_state()


def test_a_state_without_profile_scaling_scores_unscaled(fitted, data):
    state = dict(vars(pickle.loads(pickle.dumps(fitted))))
    for name in ("profile_mean_", "profile_scale_"):
        del state[name]
    older = ConvAutoencoderDetector.__new__(ConvAutoencoderDetector)
    older.__setstate__(state)
    np.testing.assert_array_equal(older.profile_mean_, np.zeros(N_MELS))
    np.testing.assert_array_equal(older.profile_scale_, np.ones(N_MELS))
    older._validate_state()
    assert not np.allclose(older.score_samples(data[1]), fitted.score_samples(data[1]))


def test_reference_profiles_are_measured_under_a_scaling_without_them():
    from skaudio_ad import _evidence

    rng = np.random.default_rng(0)
    reference = rng.normal(size=(12, 5)) * np.array([0.1, 1.0, 3.0, 0.5, 2.0])
    reference[3, 2] += 20.0  # one clip far out in one band
    loo = _evidence.scaled_knn_distance(reference)
    brute = np.empty(len(reference))
    for i in range(len(reference)):
        others = np.delete(reference, i, axis=0)
        scale = others.std(axis=0, ddof=1) + _evidence.PROFILE_SCALE_FLOOR
        d = np.sqrt((((others - reference[i]) / scale) ** 2).sum(axis=1))
        brute[i] = np.sort(d)[: _evidence.N_NEIGHBORS].mean()
    np.testing.assert_allclose(loo, brute, rtol=1e-9)
    # Scaled with itself included, the far clip would look nearer than it is.
    centre, scale = _evidence.profile_scaling(reference)
    in_sample = _evidence.knn_distance((reference - centre) / scale)
    assert loo[3] > 1.4 * in_sample[3]


def test_the_score_transform_makes_skewed_normal_scores_gaussian():
    from scipy import stats

    from skaudio_ad import _evidence

    rng = np.random.default_rng(0)
    # Right-skewed scores, like distances and squared errors: mean + 2 sd flags 4.9 % of new
    # scores from the same distribution; after the transform, about a Gaussian's 2.3 %.
    calibration, new = rng.gamma(2.0, size=2_000), rng.gamma(2.0, size=200_000)
    centre, scale, lam = _evidence.fit_score_transform(calibration)
    assert 0.0 < lam < 0.5
    z = _evidence.transform_scores(calibration, centre, scale, lam)
    assert abs(stats.skew(z)) < 0.2 < 1.0 < stats.skew(calibration)
    rate = lambda cal, x: (x > cal.mean() + 2 * cal.std(ddof=1)).mean()  # noqa: E731
    assert rate(calibration, new) > 0.04
    assert 0.015 < rate(z, _evidence.transform_scores(new, centre, scale, lam)) < 0.03
    # Gaussian scores keep (almost) their shape; too few or constant scores are left alone.
    _, _, lam = _evidence.fit_score_transform(rng.normal(size=2_000))
    assert lam > 0.8
    assert _evidence.fit_score_transform([1.0, 5.0])[2] == 1.0
    assert _evidence.fit_score_transform([3.0, 3.0, 3.0]) == (3.0, 1.0, 1.0)


def test_the_score_transform_is_increasing_and_unbounded():
    from skaudio_ad import _evidence

    x = np.array([-np.inf, -50.0, -1.0, 0.0, 1e-9, 1.0, 50.0, 1e300, np.inf])
    for lam in (0.0, 0.3, 1.0):
        y = _evidence.transform_scores(x, 0.0, 1.0, lam)
        assert np.all(np.diff(y) > 0) and y[0] == -np.inf and y[-1] == np.inf
        assert np.isfinite(y[1:-1]).all()
    identity = _evidence.transform_scores(x[1:-1], 0.0, 1.0, 1.0)
    np.testing.assert_allclose(identity, x[1:-1], rtol=1e-12)
    assert np.isnan(_evidence.transform_scores(np.array([np.nan]), 0.0, 1.0, 0.5)[0])


def test_a_damaged_score_transform_is_refused(fitted):
    for name, value in [("score_lambda_", -2.0), ("score_lambda_", 1.5),
                        ("score_scale_", 0.0), ("score_centre_", np.nan)]:
        broken = pickle.loads(pickle.dumps(fitted))
        setattr(broken, name, value)
        with pytest.raises(ValueError, match=name):
            broken._validate_state()
    broken = pickle.loads(pickle.dumps(fitted))
    del broken.score_lambda_
    with pytest.raises(ValueError, match="score_lambda_"):
        broken._validate_state()


def test_a_state_without_the_score_transform_scores_raw(fitted, data):
    # Written before the transform existed: no parameter, no fitted transform.
    state = dict(vars(pickle.loads(pickle.dumps(fitted))))
    for name in ("score_transform", "score_centre_", "score_scale_", "score_lambda_"):
        del state[name]
    older = ConvAutoencoderDetector.__new__(ConvAutoencoderDetector)
    older.__setstate__(state)
    assert older.score_transform is None
    older._validate_state()
    raw = pickle.loads(pickle.dumps(fitted)).set_params(score_transform=None)
    np.testing.assert_array_equal(older.score_samples(data[1]), raw.score_samples(data[1]))
    assert not np.allclose(older.score_samples(data[1]), fitted.score_samples(data[1]))
