"""Specification of skaudio_ad.io: files in, fixed-rate fixed-length mono rows out."""

import pickle
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from skaudio_ad.io import AudioReadError, iter_audio_chunks, load_audio, read_audio

# librosa.load, used here as the reference, imports audioread's deprecated modules.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:audioread")


def _write(path, data, sr, subtype=None):
    sf.write(path, data, sr, subtype=subtype)
    return path


@pytest.fixture
def noise_files(tmp_path):
    """Three 0.5 s mono files at 8 kHz: WAV (int16), FLAC, WAV (float)."""
    rng = np.random.default_rng(0)
    paths = []
    for i, (ext, subtype) in enumerate([("wav", "PCM_16"), ("flac", None), ("wav", "FLOAT")]):
        data = 0.2 * rng.standard_normal(4000)
        paths.append(_write(tmp_path / f"clip{i}.{ext}", data, 8000, subtype))
    return paths


@pytest.fixture
def stereo_file(tmp_path):
    """Three channels that differ: a ramp, its negative, and a constant."""
    ramp = np.linspace(-0.5, 0.5, 2000)
    data = np.stack([ramp, -ramp, np.full_like(ramp, 0.25)], axis=1)
    return _write(tmp_path / "three_channels.wav", data, 8000, "FLOAT")


def test_read_audio_equals_soundfile(noise_files):
    for path in noise_files:
        expected, _ = sf.read(path, dtype="float32")
        y = read_audio(path, sr=8000)
        assert y.dtype == np.float32 and y.shape == (4000,)
        np.testing.assert_array_equal(y, expected)


def test_read_audio_float64(noise_files):
    y = read_audio(noise_files[2], sr=8000, dtype=np.float64)
    expected, _ = sf.read(noise_files[2], dtype="float64")
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, expected)


def test_channel_pick_and_mean(stereo_file):
    data, _ = sf.read(stereo_file, dtype="float32")
    for channel in range(3):
        np.testing.assert_array_equal(read_audio(stereo_file, sr=8000, channel=channel),
                                      data[:, channel])
    np.testing.assert_allclose(read_audio(stereo_file, sr=8000, channel="mean"),
                               data.mean(axis=1), atol=1e-7)


def test_channel_out_of_range_names_the_file(stereo_file):
    with pytest.raises(AudioReadError, match=r"three_channels\.wav.*channel=3.*3 channel") as err:
        read_audio(stereo_file, sr=8000, channel=3)
    assert err.value.path == stereo_file
    assert isinstance(err.value, ValueError)


def test_resampling_44k1_equals_librosa_load(tmp_path):
    rng = np.random.default_rng(1)
    t = np.arange(44100) / 44100
    data = 0.3 * np.sin(2 * np.pi * 1000 * t) + 0.05 * rng.standard_normal(t.size)
    path = _write(tmp_path / "cd.wav", data, 44100, "PCM_16")
    y = read_audio(path, sr=16000)
    expected, _ = librosa.load(path, sr=16000)  # soxr_hq, librosa's default
    assert y.shape == (16000,) == expected.shape
    np.testing.assert_allclose(y, expected, atol=1e-6)


def test_resampled_length_follows_librosa(tmp_path):
    path = _write(tmp_path / "odd.wav", np.zeros(4411) + 0.1, 44100)
    assert read_audio(path, sr=16000).shape == (int(np.ceil(4411 * 16000 / 44100)),)
    assert load_audio([path], sr=16000).shape == (1, 1601)


def test_offset_and_duration_crop(noise_files):
    full = read_audio(noise_files[0], sr=8000)
    y = read_audio(noise_files[0], sr=8000, offset=0.125, duration=0.25)
    np.testing.assert_array_equal(y, full[1000:3000])
    expected, _ = librosa.load(noise_files[0], sr=None, offset=0.125, duration=0.25)
    np.testing.assert_array_equal(y, expected)


def test_duration_zero_pads_short_files(noise_files):
    y = read_audio(noise_files[1], sr=8000, duration=0.75)
    assert y.shape == (6000,)
    np.testing.assert_array_equal(y[:4000], read_audio(noise_files[1], sr=8000))
    assert not y[4000:].any()


def test_load_audio_rows_follow_paths(noise_files):
    X = load_audio(noise_files, sr=8000)
    assert X.shape == (3, 4000) and X.dtype == np.float32
    for row, path in zip(X, noise_files, strict=True):
        np.testing.assert_array_equal(row, read_audio(path, sr=8000))
    # One path, str or Path, is one row.
    assert load_audio(str(noise_files[0]), sr=8000).shape == (1, 4000)


def test_unequal_lengths_name_lengths_and_files(tmp_path, noise_files):
    longer = _write(tmp_path / "longer.wav", np.full(4800, 0.1), 8000)
    with pytest.raises(ValueError, match=r"4000 samples.*clip0\.wav.*4800 samples.*longer\.wav"):
        load_audio([*noise_files, longer], sr=8000)
    X = load_audio([*noise_files, longer], sr=8000, duration=0.5)
    assert X.shape == (4, 4000)


def test_unequal_lengths_raise_before_iterating(tmp_path, noise_files):
    longer = _write(tmp_path / "longer.wav", np.full(4800, 0.1), 8000)
    with pytest.raises(ValueError, match="different lengths"):
        iter_audio_chunks([*noise_files, longer], 2, sr=8000)


def test_iter_audio_chunks_covers_every_file(noise_files):
    paths = noise_files * 3
    chunks = list(iter_audio_chunks(paths, 4, sr=8000))
    assert [start for start, _ in chunks] == [0, 4, 8]
    assert [len(block) for _, block in chunks] == [4, 4, 1]
    np.testing.assert_array_equal(np.concatenate([b for _, b in chunks]),
                                  load_audio(paths, sr=8000))


def _empty_wav(tmp_path):
    return _write(tmp_path / "empty.wav", np.zeros(0), 8000)


def _text_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n")
    return path


def _missing(tmp_path):
    return tmp_path / "missing.wav"


def _folder(tmp_path):
    path = tmp_path / "folder.wav"
    path.mkdir()
    return path


@pytest.mark.parametrize(
    "make, reason",
    [
        (_empty_wav, "no audio frames"),
        (_text_wav, "not a readable audio file"),
        (_missing, "no such file"),
        (_folder, "directory"),
    ],
)
def test_unreadable_files_raise_naming_the_file(tmp_path, noise_files, make, reason):
    bad = make(tmp_path)
    for call in (
        lambda: read_audio(bad, sr=8000),
        lambda: load_audio([noise_files[0], bad], sr=8000),
        lambda: load_audio([noise_files[0], bad], sr=8000, duration=0.5),
    ):
        with pytest.raises(AudioReadError, match=reason) as err:
            call()
        assert Path(err.value.path).name in str(err.value)
        assert err.value.path == bad


def test_offset_past_the_end(noise_files):
    with pytest.raises(AudioReadError, match=r"clip0\.wav.*offset=1\.0 s.*past the end"):
        read_audio(noise_files[0], sr=8000, offset=1.0)


def test_non_finite_samples_are_read_as_they_are(tmp_path):
    data = np.zeros(100, dtype=np.float32)
    data[7] = np.nan
    path = _write(tmp_path / "nan.wav", data, 8000, "FLOAT")
    y = read_audio(path, sr=8000)
    assert np.isnan(y[7]) and np.isfinite(np.delete(y, 7)).all()


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"sr": 0}, "sr"),
        ({"channel": -1}, "channel"),
        ({"channel": "left"}, "channel"),
        ({"duration": 0}, "duration"),
        ({"offset": -1.0}, "offset"),
        ({"dtype": np.int16}, "dtype"),
    ],
)
def test_invalid_arguments_name_the_parameter(noise_files, kwargs, param):
    with pytest.raises(ValueError, match=param):
        read_audio(noise_files[0], **kwargs)
    with pytest.raises(ValueError, match=param):
        load_audio(noise_files, **kwargs)


def test_invalid_paths_and_chunk_size(noise_files):
    with pytest.raises(ValueError, match="paths is empty"):
        load_audio([])
    with pytest.raises(ValueError, match="str or os.PathLike"):
        load_audio([noise_files[0], 3])
    with pytest.raises(ValueError, match="str or os.PathLike"):
        read_audio(3)  # not a file descriptor
    with pytest.raises(ValueError, match="chunk_size"):
        iter_audio_chunks(noise_files, 0)


def test_audio_read_error_pickles(tmp_path):
    err = AudioReadError(tmp_path / "x.wav", "no such file")
    back = pickle.loads(pickle.dumps(err))
    assert back.path == err.path and str(back) == str(err)


def test_mimii_eight_channels(shared_data):
    path = shared_data / "mimii" / "fan" / "id_00" / "normal" / "00000000.wav"
    data, sr = sf.read(path, dtype="float32")
    assert sr == 16000 and data.shape == (160000, 8)
    np.testing.assert_array_equal(read_audio(path, sr=16000, channel=0), data[:, 0])
    np.testing.assert_array_equal(read_audio(path, sr=16000, channel=7), data[:, 7])
    with pytest.raises(AudioReadError, match="channel=8.*8 channel"):
        read_audio(path, channel=8)


def test_dcase_mono_and_toycar_lengths(shared_data):
    fan = sorted((shared_data / "dcase2020" / "dev_data" / "fan" / "test").glob("*.wav"))[:2]
    toycar = sorted((shared_data / "dcase2020" / "dev_data" / "ToyCar" / "test").glob("*.wav"))[:1]
    assert load_audio(fan, sr=16000).shape == (2, 160000)
    with pytest.raises(ValueError, match=r"160000 samples.*176000 samples"):
        load_audio(fan + toycar, sr=16000)
    X = load_audio(fan + toycar, sr=16000, duration=10.0)
    np.testing.assert_array_equal(X[2], sf.read(toycar[0], dtype="float32")[0][:160000])
