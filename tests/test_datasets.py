"""Specifications of ``skaudio_ad.datasets``: the synthetic generator, the MIMII/DCASE loaders."""

import functools
import os

import librosa
import numpy as np
import pytest
import soundfile as sf
from sklearn.covariance import LedoitWolf
from sklearn.metrics import roc_auc_score

from skaudio_ad.datasets import load_dcase2020, load_mimii, make_machine_sounds

MACHINES = ["fan", "pump", "valve", "slider"]
ANOMALY_TYPES = {
    "fan": {"bearing", "imbalance", "rubbing", "clogging"},
    "pump": {"bearing", "imbalance", "cavitation", "clogging"},
    "valve": {"irregular_timing", "missing_click", "double_click", "leak"},
    "slider": {"stick_slip", "irregular_stroke", "rail_damage", "dry_friction"},
}


# --------------------------------------------------------------------------- generator
@pytest.mark.parametrize("machine", MACHINES)
def test_make_machine_sounds_shapes_dtype_labels(machine):
    X, y = make_machine_sounds(3, 2, machine=machine, duration=0.5, sr=16000, random_state=0)
    assert X.shape == (5, 8000) and X.dtype == np.float32
    assert y.dtype.kind == "i" and y.tolist() == [0, 0, 0, 1, 1]  # normals first, 1 = anomaly
    assert np.all(np.isfinite(X)) and np.all(X.std(axis=1) > 1e-3)


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("sr, duration", [(8000, 0.3), (16000, 0.05), (22050, 1 / 22050)])
def test_make_machine_sounds_other_rates_and_short_clips(machine, sr, duration):
    # Clips shorter than a valve cycle or a slider dwell hold no event at all.
    X, y = make_machine_sounds(2, 16, machine=machine, duration=duration, sr=sr,
                               random_state=0)
    assert X.shape == (18, round(duration * sr)) and np.all(np.isfinite(X))


def test_make_machine_sounds_is_deterministic():
    kwargs = dict(machine="pump", duration=0.5, snr_db=0.0)
    # The legacy global generator is read on purpose: seeded calls must not touch it.
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    X1, y1 = make_machine_sounds(2, 2, random_state=7, **kwargs)
    X2, y2 = make_machine_sounds(2, 2, random_state=7, **kwargs)
    X3, _ = make_machine_sounds(2, 2, random_state=np.random.RandomState(7), **kwargs)
    X4, _ = make_machine_sounds(2, 2, random_state=8, **kwargs)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(X1, X3)
    assert not np.allclose(X1, X4)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_make_machine_sounds_clip_depends_only_on_seed_and_index():
    X_small, _ = make_machine_sounds(2, 1, machine="fan", duration=0.5, random_state=3)
    X_large, _ = make_machine_sounds(4, 3, machine="fan", duration=0.5, random_state=3)
    np.testing.assert_array_equal(X_small[:2], X_large[:2])  # the first normals
    np.testing.assert_array_equal(X_small[2], X_large[4])  # the first anomaly


@pytest.mark.parametrize("machine", MACHINES)
def test_make_machine_sounds_metadata(machine):
    duration = 0.5
    X, y, meta = make_machine_sounds(
        2, 24, machine=machine, duration=duration, random_state=0, return_metadata=True
    )
    assert meta.machine == machine and meta.sr == 16000 and meta.snr_db == 6.0
    assert set(meta.anomaly_types) == ANOMALY_TYPES[machine]
    assert meta.anomaly_type[:2].tolist() == ["normal", "normal"]
    assert set(meta.anomaly_type[2:]) == ANOMALY_TYPES[machine]  # 24 draws hit all four
    np.testing.assert_array_equal(meta.severity[:2], 0.0)
    assert np.all((meta.severity[2:] >= 0) & (meta.severity[2:] <= 1))
    assert np.all(np.isnan(meta.anomaly_start[:2])) and np.all(np.isnan(meta.anomaly_end[:2]))
    start, end = meta.anomaly_start[2:], meta.anomaly_end[2:]
    assert np.all((0 <= start) & (start < end) & (end <= duration))


def test_make_machine_sounds_episodes_are_shorter_than_the_clip():
    _, _, meta = make_machine_sounds(
        0, 16, machine="fan", duration=2.0, random_state=0, return_metadata=True
    )
    rubbing = meta.anomaly_type == "rubbing"
    assert rubbing.any()
    lengths = meta.anomaly_end[rubbing] - meta.anomaly_start[rubbing]
    assert np.all((lengths >= 0.25 * 2.0 - 1e-9) & (lengths <= 0.7 * 2.0 + 1e-9))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_normal=-1), "n_normal must be an integer >= 0; got -1"),
        (dict(n_normal=2.0), "n_normal must be an integer"),
        (dict(n_anomalous=True), "n_anomalous must be an integer"),
        (dict(n_normal=0, n_anomalous=0), "at least 1"),
        (dict(machine="drill"), r"machine must be one of \['fan', 'pump', 'slider', 'valve'\]"),
        (dict(duration=0.0), "duration must be a finite number of seconds > 0; got 0.0"),
        (dict(duration=np.inf), "duration"),
        (dict(duration="1"), "duration"),
        (dict(sr=4000), "sr must be an integer >= 8000 .*got 4000"),
        (dict(sr=16000.0), "sr must be an integer"),
        (dict(snr_db=np.nan), "snr_db must be a real number"),
        (dict(snr_db=-np.inf), "snr_db"),
        (dict(snr_db="6"), "snr_db"),
    ],
)
def test_make_machine_sounds_validates_parameters(kwargs, match):
    params = dict(n_normal=1, n_anomalous=1, duration=0.1, random_state=0) | kwargs
    n_normal, n_anomalous = params.pop("n_normal"), params.pop("n_anomalous")
    with pytest.raises(ValueError, match=match):
        make_machine_sounds(n_normal, n_anomalous, **params)


@pytest.mark.parametrize("machine", MACHINES)
def test_make_machine_sounds_respects_snr(machine):
    # Same seed: the machine stream does not depend on snr_db, so the difference between a
    # noisy set and the clean one (snr_db=inf) is exactly the background that was added.
    clean, _ = make_machine_sounds(12, 0, machine=machine, duration=2.0, snr_db=np.inf,
                                   random_state=1)
    for snr_db in (6.0, -6.0):
        noisy, _ = make_machine_sounds(12, 0, machine=machine, duration=2.0, snr_db=snr_db,
                                       random_state=1)
        background = noisy.astype(np.float64) - clean
        p_machine = np.mean(clean.astype(np.float64) ** 2, axis=1)
        p_background = np.mean(background**2, axis=1)
        assert 10 * np.log10(p_machine.mean() / p_background.mean()) == pytest.approx(
            snr_db, abs=0.5
        )
        assert np.all(np.abs(10 * np.log10(p_machine / p_background) - snr_db) < 2.0)


def test_make_machine_sounds_background_is_factory_like():
    clean, _ = make_machine_sounds(4, 0, machine="valve", duration=2.0, snr_db=np.inf,
                                   random_state=2)
    noisy, _ = make_machine_sounds(4, 0, machine="valve", duration=2.0, snr_db=0.0,
                                   random_state=2)
    background = noisy.astype(np.float64) - clean
    power = np.abs(np.fft.rfft(background, axis=1)) ** 2
    freqs = np.fft.rfftfreq(background.shape[1], 1 / 16000)
    # Coloured (pink to brown), not white: far more power per Hz low than high.
    low = power[:, (freqs > 50) & (freqs < 500)].mean()
    high = power[:, (freqs > 4000) & (freqs < 7000)].mean()
    assert low > 30 * high
    # Levels are in a usable range: a normal machine at RMS ~0.03.
    assert 0.01 < np.sqrt(np.mean(clean.astype(np.float64) ** 2)) < 0.06


def _mean_std_logmel(X):
    S = librosa.power_to_db(
        librosa.feature.melspectrogram(y=X, sr=16000, n_fft=1024, hop_length=512, n_mels=32)
    )
    return np.concatenate([S.mean(axis=-1), S.std(axis=-1)], axis=1)


@functools.cache
def _gaussian_auc(machine, snr_db):
    X, y = make_machine_sounds(40, 12, machine=machine, duration=2.0, snr_db=snr_db,
                               random_state=0)
    features = _mean_std_logmel(X)
    scores = LedoitWolf().fit(features[:28]).mahalanobis(features[28:])
    return roc_auc_score(y[28:], scores)


@pytest.mark.parametrize("machine", ["fan", "pump", "slider"])
def test_make_machine_sounds_anomalies_are_detectable_at_high_snr(machine):
    # A Gaussian on per-clip log-mel mean and spread, fitted on 28 normals: measured
    # AUC 0.94-1.0 over five seeds for these machines (valve timing anomalies need a
    # detector of time structure and are left out).
    assert _gaussian_auc(machine, 20.0) > 0.7


def test_make_machine_sounds_low_snr_is_harder():
    assert _gaussian_auc("fan", -6.0) < _gaussian_auc("fan", 20.0)


# --------------------------------------------------------------------------- MIMII loader
def test_load_mimii_real_sample(shared_data):
    mimii = load_mimii(shared_data / "mimii", machine_type="fan")
    assert len(mimii.filenames) == 40
    assert list(mimii.filenames) == sorted(mimii.filenames)
    assert all(os.path.isfile(f) for f in mimii.filenames)
    assert mimii.target.sum() == 20
    np.testing.assert_array_equal(mimii.target, [("abnormal" in f) * 1 for f in mimii.filenames])
    assert set(mimii.machine_id) == {"id_00"}
    assert np.all(np.isnan(mimii.snr))  # bare layout: SNR unknown
    # MIMII baseline: 20 abnormal files, so the first 20 normal files (all of them) are test.
    assert set(mimii.split) == {"test"}
    assert mimii.machine_type == "fan" and mimii.channel == 0 and "data" not in mimii
    assert "MIMII" in mimii.DESCR


def test_load_mimii_real_sample_audio(shared_data):
    mimii = load_mimii(shared_data / "mimii", machine_type="fan", machine_id=0,
                       load_audio=True, channel=7, duration=0.5)
    assert mimii.data.shape == (40, 8000) and mimii.data.dtype == np.float32
    eight = sf.read(mimii.filenames[0], frames=8000, dtype="float32")[0]
    assert eight.shape == (8000, 8)
    np.testing.assert_allclose(mimii.data[0], eight[:, 7], atol=1e-6)


def _write_mimii(folder, n_normal, n_abnormal, n_samples=160, n_channels=8):
    """Tiny MIMII-like WAVs; channel c holds the constant (c + 1) / 16."""
    frame = np.tile((np.arange(n_channels) + 1) / 16, (n_samples, 1))
    for label, n in (("normal", n_normal), ("abnormal", n_abnormal)):
        (folder / label).mkdir(parents=True)
        for i in range(n):
            sf.write(folder / label / f"{i:08d}.wav", frame, 16000, subtype="PCM_16")


@pytest.fixture
def mimii_tree(tmp_path):
    """Full MIMII layout: fan at 6/0/-6 dB with ids 00 (5+2) and 02 (4+3); pump at 6 dB."""
    for snr in ("6", "0", "-6"):
        _write_mimii(tmp_path / f"{snr}_dB_fan" / "fan" / "id_00", 5, 2)
        _write_mimii(tmp_path / f"{snr}_dB_fan" / "fan" / "id_02", 4, 3)
    _write_mimii(tmp_path / "6_dB_pump" / "pump" / "id_00", 3, 1)
    return tmp_path


def test_load_mimii_full_layout(mimii_tree):
    mimii = load_mimii(mimii_tree, machine_type="fan")
    assert len(mimii.filenames) == 3 * (7 + 7)
    assert sorted(set(mimii.snr)) == [-6.0, 0.0, 6.0]
    assert sorted(set(mimii.machine_id)) == ["id_00", "id_02"]
    assert list(mimii.filenames) == sorted(mimii.filenames)
    for snr in (-6.0, 0.0, 6.0):
        for machine_id, n_abnormal in (("id_00", 2), ("id_02", 3)):
            group = (mimii.snr == snr) & (mimii.machine_id == machine_id)
            normal = group & (mimii.target == 0)
            names = [os.path.basename(f) for f in mimii.filenames[normal & (mimii.split == "test")]]
            assert names == [f"{i:08d}.wav" for i in range(n_abnormal)]  # the first N_abnormal
            assert np.all(mimii.split[group & (mimii.target == 1)] == "test")
            assert (group & (mimii.split == "train")).sum() == normal.sum() - n_abnormal


@pytest.mark.parametrize("machine_id", [0, "id_00", "00", [0], ("id_00",), np.array([0])])
def test_load_mimii_machine_id_forms(mimii_tree, machine_id):
    mimii = load_mimii(mimii_tree, machine_type="fan", machine_id=machine_id)
    assert set(mimii.machine_id) == {"id_00"} and len(mimii.filenames) == 3 * 7


def test_load_mimii_filters(mimii_tree):
    both = load_mimii(mimii_tree, machine_type="fan", machine_id=["id_00", 2], snr=[6, -6])
    assert sorted(set(both.snr)) == [-6.0, 6.0] and len(both.filenames) == 2 * 14
    one = load_mimii(mimii_tree, machine_type="fan", snr=0)
    assert set(one.snr) == {0.0}
    # Filtering keeps the per-(id, SNR) split.
    full = load_mimii(mimii_tree, machine_type="fan")
    lookup = dict(zip(full.filenames, full.split, strict=True))
    assert [lookup[f] for f in one.filenames] == one.split.tolist()
    pump = load_mimii(mimii_tree, machine_type="pump")
    assert pump.target.tolist() == [1, 0, 0, 0] and pump.split.tolist() == [
        "test", "test", "train", "train"]


def test_load_mimii_bare_and_snr_folder_roots(mimii_tree, tmp_path_factory):
    # Root at one "<snr>_dB_<machine>" folder: the SNR comes from its name.
    at_snr = load_mimii(mimii_tree / "-6_dB_fan", machine_type="fan")
    assert set(at_snr.snr) == {-6.0} and len(at_snr.filenames) == 14
    at_machine = load_mimii(mimii_tree / "-6_dB_fan" / "fan", machine_type="fan")
    np.testing.assert_array_equal(at_machine.filenames, at_snr.filenames)
    np.testing.assert_array_equal(at_machine.snr, at_snr.snr)
    # Bare layout: SNR unknown.
    bare = tmp_path_factory.mktemp("bare")
    _write_mimii(bare / "valve" / "id_04", 3, 1)
    mimii = load_mimii(bare, machine_type="valve")
    assert np.all(np.isnan(mimii.snr)) and set(mimii.machine_id) == {"id_04"}
    with pytest.raises(ValueError, match="SNR .* is unknown.*snr=None"):
        load_mimii(bare, machine_type="valve", snr=6)


def test_load_mimii_channel_selection(mimii_tree):
    kwargs = dict(machine_type="pump", load_audio=True)
    third = load_mimii(mimii_tree, channel=3, **kwargs)
    assert third.data.shape == (4, 160) and third.data.dtype == np.float32
    np.testing.assert_allclose(third.data, 4 / 16, atol=1e-4)
    mean = load_mimii(mimii_tree, channel="mean", duration=0.02, **kwargs)
    assert mean.data.shape == (4, 320)  # zero-padded to 20 ms
    np.testing.assert_allclose(mean.data[:, :160], np.mean(np.arange(1, 9) / 16), atol=1e-4)


def test_load_mimii_errors(mimii_tree, tmp_path_factory):
    with pytest.raises(ValueError, match=r"machine_type='valve' not found.*\['fan', 'pump'\]"):
        load_mimii(mimii_tree, machine_type="valve")
    with pytest.raises(ValueError, match=r"machine_id \['id_01'\] not found.*'id_00', 'id_02'"):
        load_mimii(mimii_tree, machine_type="fan", machine_id=1)
    with pytest.raises(ValueError, match=r"snr \[3.0\] not found.*\[-6.0, 0.0, 6.0\]"):
        load_mimii(mimii_tree, machine_type="fan", snr=3)
    with pytest.raises(ValueError, match="machine_id must be"):
        load_mimii(mimii_tree, machine_type="fan", machine_id="fan_00")
    with pytest.raises(ValueError, match="machine_id must be"):
        load_mimii(mimii_tree, machine_type="fan", machine_id=True)
    with pytest.raises(ValueError, match="snr must be"):
        load_mimii(mimii_tree, machine_type="fan", snr="6")
    with pytest.raises(ValueError, match="load_audio must be True or False"):
        load_mimii(mimii_tree, machine_type="fan", load_audio="yes")
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        load_mimii(mimii_tree / "missing", machine_type="fan")
    wrong = tmp_path_factory.mktemp("wrong")
    (wrong / "recordings").mkdir()
    (wrong / "notes.txt").write_text("")
    with pytest.raises(FileNotFoundError, match=r"expected <root>/<snr>_dB_<machine>.*"
                       r"found 'notes.txt', 'recordings/'"):
        load_mimii(wrong, machine_type="fan")
    empty = tmp_path_factory.mktemp("empty")
    (empty / "fan" / "id_00" / "normal").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no WAV files"):
        load_mimii(empty, machine_type="fan")


# --------------------------------------------------------------------------- DCASE loader
def test_load_dcase2020_real_sample(shared_data):
    root = shared_data / "dcase2020"
    slider = load_dcase2020(root, machine_type="slider")
    train = slider.split == "train"
    assert train.sum() == 75 and np.all(slider.target[train] == 0)
    assert set(slider.machine_id[train]) == {"id_00"}
    test = ~train
    assert set(slider.target[test]) == {0, 1}
    np.testing.assert_array_equal(
        slider.target, [os.path.basename(f).startswith("anomaly") * 1 for f in slider.filenames]
    )
    assert list(slider.filenames) == sorted(slider.filenames)
    for machine_type in ("fan", "pump", "valve", "ToyCar", "ToyConveyor"):
        data = load_dcase2020(root, machine_type=machine_type)
        assert set(data.split) == {"test"} and set(data.target) == {0, 1}
        assert data.machine_type == machine_type
    with pytest.raises(ValueError, match=r"split='train' not found.*available: \['test'\]"):
        load_dcase2020(root, machine_type="valve", split="train")


def test_load_dcase2020_real_sample_audio(shared_data):
    toycar = load_dcase2020(shared_data / "dcase2020" / "dev_data", machine_type="toycar",
                            machine_id=1, load_audio=True)
    assert toycar.machine_type == "ToyCar" and set(toycar.machine_id) == {"id_01"}
    assert toycar.data.shape == (len(toycar.filenames), 176000)  # 11 s clips


@pytest.fixture
def dcase_tree(tmp_path):
    names = {
        "dev_data/fan/train": ["normal_id_00_00000000.wav", "normal_id_00_00000001.wav",
                               "normal_id_02_00000000.wav"],
        "dev_data/fan/test": ["normal_id_00_00000000.wav", "anomaly_id_00_00000000.wav",
                              "anomaly_id_02_00000000.wav"],
        "dev_data/ToyCar/test": ["anomaly_id_01_00000000.wav", "normal_id_01_00000000.wav"],
        "eval_data/fan/train": ["normal_id_01_00000000.wav"],
        "eval_data/fan/test": ["id_01_00000000.wav", "id_01_00000001.wav"],
    }
    for folder, files in names.items():
        (tmp_path / folder).mkdir(parents=True)
        for i, name in enumerate(files):
            sf.write(tmp_path / folder / name, np.full(320, i / 10), 16000, subtype="PCM_16")
    return tmp_path


def test_load_dcase2020_layout(dcase_tree):
    fan = load_dcase2020(dcase_tree, machine_type="fan")
    assert [os.path.relpath(f, dcase_tree) for f in fan.filenames] == [
        "dev_data/fan/test/anomaly_id_00_00000000.wav",
        "dev_data/fan/test/anomaly_id_02_00000000.wav",
        "dev_data/fan/test/normal_id_00_00000000.wav",
        "dev_data/fan/train/normal_id_00_00000000.wav",
        "dev_data/fan/train/normal_id_00_00000001.wav",
        "dev_data/fan/train/normal_id_02_00000000.wav",
    ]
    assert fan.target.tolist() == [1, 1, 0, 0, 0, 0]
    assert fan.split.tolist() == ["test"] * 3 + ["train"] * 3
    assert fan.machine_id.tolist() == ["id_00", "id_02", "id_00", "id_00", "id_00", "id_02"]
    assert "DCASE" in fan.DESCR and fan.machine_type == "fan"
    # The same files from dev_data itself and from dev_data/<machine>.
    for root in (dcase_tree / "dev_data", dcase_tree / "dev_data" / "fan"):
        np.testing.assert_array_equal(load_dcase2020(root, machine_type="fan").filenames,
                                      fan.filenames)


def test_load_dcase2020_filters_and_audio(dcase_tree):
    train = load_dcase2020(dcase_tree, machine_type="fan", split="train", machine_id="id_02")
    assert train.filenames.size == 1 and train.split.tolist() == ["train"]
    test = load_dcase2020(dcase_tree, machine_type="fan", split="test", load_audio=True,
                          sr=8000)
    assert test.data.shape == (3, 160) and test.data.dtype == np.float32
    toy = load_dcase2020(dcase_tree, machine_type="TOYCAR", duration=0.01, load_audio=True)
    assert toy.machine_type == "ToyCar" and toy.data.shape == (2, 160)


def test_load_dcase2020_eval_layout(dcase_tree):
    evaluation = load_dcase2020(dcase_tree / "eval_data", machine_type="fan")
    assert evaluation.target.tolist() == [-1, -1, 0]  # eval test clips are unlabeled
    assert evaluation.split.tolist() == ["test", "test", "train"]
    assert set(evaluation.machine_id) == {"id_01"}


def test_load_dcase2020_errors(dcase_tree, tmp_path_factory):
    with pytest.raises(ValueError, match=r"machine_type='valve' not found.*\['ToyCar', 'fan'\]"):
        load_dcase2020(dcase_tree, machine_type="valve")
    with pytest.raises(ValueError, match=r"split='train' not found.*\['test'\]"):
        load_dcase2020(dcase_tree, machine_type="ToyCar", split="train")
    with pytest.raises(ValueError, match="split must be None, 'train' or 'test'"):
        load_dcase2020(dcase_tree, machine_type="fan", split="eval")
    with pytest.raises(ValueError, match=r"machine_id \['id_04'\] not found.*'id_00', 'id_02'"):
        load_dcase2020(dcase_tree, machine_type="fan", machine_id=4)
    with pytest.raises(FileNotFoundError, match=r"expected <root>/dev_data/<machine>.*"
                       r"found 'normal_id_00_00000000.wav'"):
        load_dcase2020(dcase_tree / "dev_data" / "fan" / "train", machine_type="fan")
    wrong = tmp_path_factory.mktemp("wrong")
    (wrong / "dcase2020").write_text("")
    with pytest.raises(FileNotFoundError, match="found 'dcase2020'"):
        load_dcase2020(wrong, machine_type="fan")
    empty = tmp_path_factory.mktemp("empty")
    (empty / "dev_data" / "pump" / "test").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no DCASE WAV files"):
        load_dcase2020(empty, machine_type="pump")


def test_load_dcase2020_warns_about_foreign_names(dcase_tree):
    sf.write(dcase_tree / "dev_data" / "fan" / "test" / "section_00_0001.wav", np.zeros(320),
             16000)
    with pytest.warns(UserWarning, match="skipped 1 WAV file.*section_00_0001.wav"):
        fan = load_dcase2020(dcase_tree, machine_type="fan")
    assert fan.filenames.size == 6
