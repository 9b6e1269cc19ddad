"""Flat memory and several devices: the feature store, streamed training, data parallelism."""

import gc
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from skaudio_ad import (
    ConvAutoencoderDetector,
    FeatureStore,
    MelSpectrogramTransformer,
    _store,
    _streaming,
)

# Shapes shared with tests/test_detector.py, so that JAX compiles each step once per session.
N_MELS, N_FRAMES, PATCH = 16, 64, 16
SMALL = dict(
    patch_frames=PATCH,
    hidden_channels=16,
    latent_dim=8,
    max_epochs=4,
    batch_size=16,
    validation_fraction=0.2,
)
SR = 8000


def spectrograms(n, seed):
    rng = np.random.default_rng(seed)
    mel, t = np.arange(N_MELS)[:, None], np.arange(N_FRAMES)[None, :]
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1))
    X = -40.0 + 6.0 * np.sin(mel / 3.0) + 4.0 * np.sin(2 * np.pi * t / 8.0 + phase) * (mel < 8)
    return (X + rng.normal(0.0, 1.0, size=(n, N_MELS, N_FRAMES))).astype(np.float32)


@pytest.fixture(scope="module")
def wav_paths(tmp_path_factory):
    """Twelve four-second 8 kHz WAV files (63 frames at hop 512)."""
    folder = tmp_path_factory.mktemp("wavs")
    rng = np.random.default_rng(0)
    t = np.arange(int(SR * 4.0)) / SR
    paths = []
    for i in range(12):
        y = 0.2 * np.sin(2 * np.pi * (300 + 10 * i) * t) + 0.05 * rng.standard_normal(t.size)
        paths.append(str(folder / f"clip{i:02d}.wav"))
        sf.write(paths[-1], y.astype(np.float32), SR)
    return paths


def mel(**params):
    return MelSpectrogramTransformer(sr=SR, n_mels=N_MELS, **params)


# ----------------------------------------------------------------------------- the store


def test_store_written_by_the_transformer_equals_the_array(wav_paths, tmp_path, monkeypatch):
    monkeypatch.setattr(_store, "CHUNK_BYTES", 5 * N_MELS * 63 * 4)  # chunks of 5 files
    X = mel(feature_store=None).fit_transform(wav_paths)
    store = mel(feature_store=tmp_path / "features").fit_transform(wav_paths)
    assert isinstance(store, FeatureStore) and not store.temporary
    assert store.shape == X.shape and store.dtype == np.float32 and len(store) == 12
    np.testing.assert_array_equal(np.asarray(store), X)
    np.testing.assert_array_equal(store[[7, 2, 3, 11]], X[[7, 2, 3, 11]])
    np.testing.assert_array_equal(store[3:9:2], X[3:9:2])
    np.testing.assert_array_equal(store[-1], X[-1])
    np.testing.assert_array_equal(store[2, 5], X[2, 5])
    np.testing.assert_array_equal(store[X[:, 0, 0] > X[0, 0, 0]], X[X[:, 0, 0] > X[0, 0, 0]])
    with pytest.raises(IndexError, match="row 12 is out of range"):
        store[12]
    # Kept in the folder, named after its contents; reopened by path or by pickle.
    assert os.path.dirname(store.path) == str(tmp_path / "features")
    again = FeatureStore(store.path)
    assert again.digest == store.digest
    np.testing.assert_array_equal(np.asarray(pickle.loads(pickle.dumps(store))), X)
    del store, again
    gc.collect()
    assert len(os.listdir(tmp_path / "features")) == 1


def test_auto_store_is_temporary_and_only_for_large_outputs(wav_paths, monkeypatch):
    X = mel().fit_transform(wav_paths)
    assert isinstance(X, np.ndarray)  # 48 kB: below the threshold, an array as ever
    assert isinstance(mel(flatten=True).fit_transform(wav_paths), np.ndarray)
    monkeypatch.setattr(_store, "AUTO_STORE_BYTES", 1024)
    store = mel().fit_transform(wav_paths)
    assert isinstance(store, FeatureStore) and store.temporary
    np.testing.assert_array_equal(np.asarray(store), X)
    path = store.path
    assert os.path.exists(path)
    del store
    gc.collect()
    assert not os.path.exists(path)


def test_store_rejects_damaged_files(tmp_path):
    store = FeatureStore.from_array(spectrograms(3, 0), folder=tmp_path)
    with open(store.path, "r+b") as f:
        f.truncate(os.path.getsize(store.path) - 4)
    with pytest.raises(ValueError, match="truncated or damaged"):
        FeatureStore(store.path)
    (tmp_path / "junk.f32").write_bytes(b"x" * 5000)
    with pytest.raises(ValueError, match="not a skaudio_ad feature store"):
        FeatureStore(tmp_path / "junk.f32")


def test_errors_while_writing_name_the_chunk(wav_paths, tmp_path):
    bad = str(tmp_path / "nan.wav")
    sf.write(bad, np.full(int(SR * 4.0), np.nan, np.float32), SR, subtype="FLOAT")
    with pytest.raises(ValueError, match="NaN or inf") as info:
        mel(feature_store=tmp_path / "store").fit_transform([*wav_paths, bad])
    assert any("feature store" in note for note in info.value.__notes__)


# ----------------------------------------------------------------------------- streaming


def test_streamed_statistics_equal_numpy():
    X = spectrograms(30, 1).astype(np.float64) * 3.0 + 7.0
    mean, scale = _streaming.channel_stats(_streaming.Clips(X))
    flat = X.astype(np.float32).transpose(0, 2, 1).reshape(-1, N_MELS).astype(np.float64)
    np.testing.assert_allclose(mean, flat.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(scale, flat.std(axis=0), rtol=1e-12)


def test_store_in_one_group_gives_identical_results(tmp_path):
    X, X_test = spectrograms(40, 0), spectrograms(10, 1)
    store = FeatureStore.from_array(X, folder=tmp_path)
    a = ConvAutoencoderDetector(**SMALL, random_state=0).fit(X)
    b = ConvAutoencoderDetector(**SMALL, random_state=0).fit(store)
    assert [h["train_loss"] for h in a.history_] == [h["train_loss"] for h in b.history_]
    assert [h["valid_loss"] for h in a.history_] == [h["valid_loss"] for h in b.history_]
    np.testing.assert_array_equal(a.feature_mean_, b.feature_mean_)
    np.testing.assert_array_equal(a.score_samples(X_test), b.score_samples(X_test))
    assert a.offset_ == b.offset_
    # Scoring a store streams it and gives the array's scores.
    test_store = FeatureStore.from_array(X_test)
    np.testing.assert_array_equal(b.score_samples(test_store), b.score_samples(X_test))
    np.testing.assert_array_equal(b.predict(test_store), b.predict(X_test))


def test_large_store_trains_a_group_at_a_time(tmp_path, monkeypatch):
    X, X_test = spectrograms(40, 0), spectrograms(10, 1)
    store = FeatureStore.from_array(X, folder=tmp_path)
    per_clip = N_MELS * N_FRAMES * 4
    monkeypatch.setattr(_streaming, "GROUP_BYTES", 12 * per_clip)
    built = []
    to_device = _streaming.to_device

    def spy(clips, index, standardise, n_rows, layout):
        built.append((len(np.arange(clips.n_clips)[index]), n_rows))
        return to_device(clips, index, standardise, n_rows, layout)

    monkeypatch.setattr(_streaming, "to_device", spy)
    detector = ConvAutoencoderDetector(**SMALL, random_state=0).fit(store)
    # The training clips in groups of at most 12, every clip once per epoch, on one shape.
    n_train = 40 - len(detector.validation_indices_)
    assert detector.n_epochs_ == 4
    assert len(built) == 4 * -(-n_train // 12)
    assert {rows for _, rows in built} == {12}
    assert sum(n for n, _ in built) == 4 * n_train
    in_memory = ConvAutoencoderDetector(**SMALL, random_state=0).fit(X)
    # Other batches, the same learning: losses and scores close to the in-memory fit.
    np.testing.assert_allclose(
        [h["valid_loss"] for h in detector.history_],
        [h["valid_loss"] for h in in_memory.history_],
        rtol=0.2,
    )
    again = ConvAutoencoderDetector(**SMALL, random_state=0).fit(store)
    np.testing.assert_array_equal(again.score_samples(X_test), detector.score_samples(X_test))


def test_pipeline_on_paths_with_a_store_equals_in_memory(wav_paths, tmp_path):
    def pipeline(feature_store):
        return Pipeline(
            [
                ("mel", mel(feature_store=feature_store)),
                ("detector", ConvAutoencoderDetector(**SMALL, random_state=0)),
            ]
        )

    a = pipeline(None).fit(wav_paths)
    b = pipeline(tmp_path / "store").fit(wav_paths)
    np.testing.assert_array_equal(a.score_samples(wav_paths), b.score_samples(wav_paths))
    assert a[-1].history_[-1]["train_loss"] == b[-1].history_[-1]["train_loss"]


def test_joblib_memory_keys_a_store_by_its_contents(tmp_path):
    X = spectrograms(20, 0)
    first = FeatureStore.from_array(X)
    second = FeatureStore.from_array(X)
    assert first.path != second.path and first.digest == second.digest
    params = dict(**SMALL, memory=str(tmp_path / "cache"), random_state=0)
    a = ConvAutoencoderDetector(**params).fit(first)
    b = ConvAutoencoderDetector(**params).fit(second)
    assert a.history_ == b.history_  # the second fit is a cache hit: same seconds too


# ----------------------------------------------------------------------------- devices

FOUR_DEVICES = r"""
import json, sys
import numpy as np
import jax
assert len(jax.devices()) == 4, jax.devices()
from skaudio_ad import ConvAutoencoderDetector
X = np.load(sys.argv[1])
params = json.loads(sys.argv[2])
out = {}
for devices in (1, 4, 3):
    d = ConvAutoencoderDetector(**params, devices=devices, random_state=0).fit(X[:40])
    out[devices] = {
        "train": [h["train_loss"] for h in d.history_],
        "valid": [h["valid_loss"] for h in d.history_],
        "scores": d.score_samples(X[40:]).tolist(),
        "param_devices": len(jax.tree.leaves(d._device_params())[0].devices()),
    }
print(json.dumps(out))
"""


def test_four_devices_give_the_loss_curve_of_one(tmp_path):
    data = tmp_path / "X.npy"
    np.save(data, spectrograms(50, 0))
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu"
    )
    # 4 devices divide the batch of 16; 3 do not: padded to 18 with masked patches. Two folds
    # (3 networks in turn): the setting in which 4 of 6 fits stalled in the gradient
    # all-reduce until each step on several CPU devices was awaited (_training._epoch_in_turn).
    params = {**SMALL, "batch_size": 16, "max_epochs": 3, "n_folds": 2}
    result = subprocess.run(
        [sys.executable, "-c", FOUR_DEVICES, str(data), json.dumps(params)],
        env=env,
        capture_output=True,
        text=True,
    )
    # A failed child is reported with its own words (an XLA abort prints only to stderr).
    assert result.returncode == 0, (
        f"the 4-device child exited with {result.returncode}:\n{result.stderr[-4000:]}"
    )
    out = json.loads(result.stdout.strip().splitlines()[-1])
    one = out["1"]
    assert out["1"]["param_devices"] == 1 and out["4"]["param_devices"] == 4
    for n in ("4", "3"):
        np.testing.assert_allclose(out[n]["train"], one["train"], rtol=2e-5)
        np.testing.assert_allclose(out[n]["valid"], one["valid"], rtol=2e-5)
        # The fold networks behind the combined score amplify rounding over epochs (measured:
        # 7e-4 in their parameters after five epochs with 4 devices); the full network not.
        np.testing.assert_allclose(out[n]["scores"], one["scores"], rtol=1e-4, atol=1e-3)


def test_devices_parameter_is_checked_and_picklable():
    X = spectrograms(10, 0)
    with pytest.raises(ValueError, match="devices=99"):
        ConvAutoencoderDetector(**SMALL, devices=99).fit(X)
    with pytest.raises(ValueError, match=r"ids present are \[0\]"):
        ConvAutoencoderDetector(**SMALL, devices=[5]).fit(X)
    detector = ConvAutoencoderDetector(**{**SMALL, "max_epochs": 1}, devices=[0]).fit(X)
    clone_ = pickle.loads(pickle.dumps(clone(detector)))
    assert clone_.devices == [0]


@pytest.mark.slow
def test_memory_benchmark_runs(tmp_path):
    """``benchmarks/memory.py`` end to end on a few files (fresh processes; slow)."""
    out = tmp_path / "memory.md"
    script = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "memory.py")
    subprocess.run(
        [
            sys.executable,
            script,
            "--sizes",
            "8",
            "16",
            "--pair",
            "8",
            "16",
            "--max-epochs",
            "1",
            "--folder",
            str(tmp_path),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    text = out.read_text()
    assert "| 16 | 1 MB | in memory |" in text
    assert "extra / feature bytes" in text and "feature_store=None" in text
    assert os.listdir(tmp_path) == ["memory.md"]  # the WAV files were deleted
