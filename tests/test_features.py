"""Specification of MelSpectrogramTransformer: librosa's log-mel, many clips at once."""

import pickle

import librosa
import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

from skaudio_ad import MelSpectrogramTransformer, _features
from skaudio_ad.io import AudioReadError, load_audio

# librosa.load, used here as a reference, imports audioread's deprecated modules.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:audioread")

# sklearn's checks send "clips" of 1-5 samples. n_fft=2 is the only FFT that fits;
# its two bins sit at 0 Hz and Nyquist, edges of any mel filter below Nyquist, so
# fmax=sr (librosa allows fmax > sr/2) puts the one filter's peak on the Nyquist
# bin and the output varies with the input instead of being the -100 dB floor.
CHECK_PARAMS = dict(sr=2, n_fft=2, hop_length=1, n_mels=1, fmax=2.0)


# Every check passes for both output layouts: no expected failures to declare.
@parametrize_with_checks(
    [
        MelSpectrogramTransformer(**CHECK_PARAMS, flatten=True),
        MelSpectrogramTransformer(**CHECK_PARAMS, flatten=False),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# Checks sklearn runs on its own estimators but parametrize_with_checks does not.
# Most need get_feature_names_out / set_output, i.e. flatten=True.
@pytest.mark.parametrize(
    "check_name",
    [
        "check_param_validation",
        "check_dataframe_column_names_consistency",
        "check_get_feature_names_out_error",
        "check_transformer_get_feature_names_out",
        "check_transformer_get_feature_names_out_pandas",
        "check_set_output_transform",
        "check_set_output_transform_pandas",
        "check_global_output_transform_pandas",
    ],
)
@pytest.mark.filterwarnings("ignore:X (does not have|has) .*feature names:UserWarning")
def test_more_sklearn_checks(check_name):
    check = getattr(estimator_checks, check_name)
    check("MelSpectrogramTransformer", MelSpectrogramTransformer(**CHECK_PARAMS, flatten=True))


def librosa_log_mel(y, sr=16000, n_fft=1024, hop_length=512, win_length=None, window="hann",
                    center=True, n_mels=64, fmin=0.0, fmax=None, power=2.0, top_db=None):
    """The reference: librosa, one clip at a time."""
    S = librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=n_fft, hop_length=hop_length, win_length=win_length,
        window=window, center=center, n_mels=n_mels, fmin=fmin, fmax=fmax, power=power,
    )
    return librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=top_db)


def librosa_batch(X, **params):
    return np.stack([librosa_log_mel(clip, **params) for clip in X])


def tones_and_noise(n_clips=4, n_samples=16000, sr=16000, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / sr
    freqs = rng.uniform(100, 4000, size=(n_clips, 1))
    X = 0.3 * np.sin(2 * np.pi * freqs * t) + 0.05 * rng.standard_normal((n_clips, n_samples))
    return X.astype(dtype)


GOLDEN_PARAMS = [
    {},
    {"center": False},
    {"n_fft": 512, "hop_length": 160, "win_length": 400, "n_mels": 40},
    {"fmin": 50.0, "fmax": 7000.0, "n_mels": 80},
    {"power": 1.0},
    {"top_db": 80.0},
    {"n_fft": 1001, "hop_length": 333, "window": ("kaiser", 8.0)},
    {"window": "hamming", "hop_length": 1024},
    {"sr": 22050, "n_fft": 2048, "hop_length": 256, "n_mels": 128},
]


@pytest.mark.parametrize("params", GOLDEN_PARAMS, ids=str)
def test_equals_librosa_clip_by_clip(params):
    X = tones_and_noise(sr=params.get("sr", 16000))
    out = MelSpectrogramTransformer(**params).fit_transform(X)
    expected = librosa_batch(X, **params)
    assert out.dtype == np.float32
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-4)


def test_float64_input_equals_librosa():
    X = tones_and_noise(dtype=np.float64)
    out = MelSpectrogramTransformer().transform(X)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, librosa_batch(X), rtol=0, atol=1e-4)


def test_pure_tone_far_bands_equal_librosa():
    # Bands ~100 dB below a noiseless tone: float32 FFTs miss them by ~0.1 dB.
    t = np.arange(32000) / 16000
    X = (0.5 * np.sin(2 * np.pi * 440 * t))[np.newaxis].astype(np.float32)
    out = MelSpectrogramTransformer().transform(X)
    np.testing.assert_allclose(out, librosa_batch(X), rtol=0, atol=1e-3)


def test_top_db_applies_per_clip():
    X = tones_and_noise(n_clips=2)
    X[1] *= 1e-3  # 60 dB quieter
    out = MelSpectrogramTransformer(top_db=30.0).transform(X)
    for clip in out:
        assert clip.min() == pytest.approx(clip.max() - 30.0, abs=1e-4)
    np.testing.assert_allclose(out, librosa_batch(X, top_db=30.0), rtol=0, atol=1e-4)


def test_results_do_not_depend_on_batching_or_threads(monkeypatch):
    X = tones_and_noise(n_clips=9, n_samples=32000)
    whole = MelSpectrogramTransformer().transform(X)
    one_by_one = np.concatenate([MelSpectrogramTransformer().transform(X[i : i + 1])
                                 for i in range(len(X))])
    threaded = MelSpectrogramTransformer(n_jobs=2).transform(X)
    np.testing.assert_array_equal(whole, one_by_one)
    np.testing.assert_array_equal(whole, threaded)
    # Other budgets: frames of one clip split over blocks (of 1, 10 and 32 frames),
    # several clips per block, one clip per task. The result must not change.
    for block_bytes in (2 * 10**4, 2 * 10**5, 6 * 10**5, 10**7):
        monkeypatch.setattr(_features, "_BLOCK_BYTES", block_bytes)
        monkeypatch.setattr(_features, "_TASK_BYTES", 40000)
        np.testing.assert_array_equal(whole, MelSpectrogramTransformer(n_jobs=2).transform(X))


def test_3d_channel_and_mean():
    rng = np.random.default_rng(0)
    X = (0.1 * rng.standard_normal((3, 2, 4096))).astype(np.float32)
    mel = MelSpectrogramTransformer(channel=1)
    np.testing.assert_array_equal(mel.fit_transform(X), mel.transform(X[:, 1]))
    assert mel.n_features_in_ == 4096
    mean = MelSpectrogramTransformer(channel="mean").transform(X)
    expected = librosa_batch([librosa.to_mono(clip) for clip in X])
    np.testing.assert_allclose(mean, expected, rtol=0, atol=1e-4)
    with pytest.raises(ValueError, match=r"channel=2 is out of range.*2 channel"):
        MelSpectrogramTransformer(channel=2).fit(X)


@pytest.fixture
def wav_folder(tmp_path):
    """Four 0.5 s clips at 16 kHz as int16 WAV and FLAC."""
    X = tones_and_noise(n_clips=4, n_samples=8000, seed=3)
    paths = []
    for i, clip in enumerate(X):
        path = tmp_path / (f"c{i}.wav" if i % 2 else f"c{i}.flac")
        sf.write(path, clip, 16000, subtype="PCM_16")
        paths.append(path)
    return paths


def test_paths_equal_arrays_read_with_io(wav_folder):
    mel = MelSpectrogramTransformer(n_fft=512, hop_length=256)
    from_paths = mel.fit_transform([str(p) for p in wav_folder])
    assert mel.n_features_in_ == 8000
    assert mel.n_frames_ == from_paths.shape[2] == 1 + 8000 // 256
    X = load_audio(wav_folder, sr=16000)
    np.testing.assert_array_equal(from_paths, mel.transform(X))
    np.testing.assert_allclose(from_paths, librosa_batch(X, n_fft=512, hop_length=256),
                               rtol=0, atol=1e-4)
    # pathlib paths (above) and a numpy array of str work alike.
    np.testing.assert_array_equal(mel.transform(np.array([str(p) for p in wav_folder])),
                                  from_paths)


def test_paths_streamed_in_tasks(wav_folder, monkeypatch):
    monkeypatch.setattr(_features, "_TASK_BYTES", 40000)  # 1 clip per task
    mel = MelSpectrogramTransformer(n_fft=512, hop_length=256, n_jobs=2)
    np.testing.assert_array_equal(mel.transform(wav_folder * 3),
                                  mel.transform(load_audio(wav_folder * 3)))


def test_multichannel_files(tmp_path):
    rng = np.random.default_rng(0)
    data = (0.1 * rng.standard_normal((4096, 3))).astype(np.float32)
    path = tmp_path / "three.wav"
    sf.write(path, data, 16000, subtype="FLOAT")
    for channel, y in [(2, data[:, 2]), ("mean", data.mean(axis=1))]:
        out = MelSpectrogramTransformer(channel=channel).transform([path])
        np.testing.assert_allclose(out[0], librosa_log_mel(y), rtol=0, atol=1e-4)
    with pytest.raises(AudioReadError, match=r"three\.wav.*channel=3"):
        MelSpectrogramTransformer(channel=3).transform([path])


def test_resamples_44k1_files(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "cd.wav"
    sf.write(path, 0.1 * rng.standard_normal(44100), 44100, subtype="PCM_16")
    out = MelSpectrogramTransformer(sr=16000).transform([path])
    y, _ = librosa.load(path, sr=16000)
    assert out.shape == (1, 64, 1 + 16000 // 512)
    np.testing.assert_allclose(out[0], librosa_log_mel(y), rtol=0, atol=1e-4)


def test_duration_crops_and_pads_files(tmp_path, wav_folder):
    short = tmp_path / "short.wav"
    sf.write(short, tones_and_noise(1, 4000)[0], 16000)
    paths = [*wav_folder, short]
    with pytest.raises(ValueError, match=r"8000 samples.*4000 samples.*short\.wav"):
        MelSpectrogramTransformer().fit(paths)
    mel = MelSpectrogramTransformer(duration=0.4)
    out = mel.fit_transform(paths)
    assert mel.n_features_in_ == 6400 and out.shape == (5, 64, 1 + 6400 // 512)
    X = load_audio(paths, sr=16000, duration=0.4)
    assert not X[4, 4000:].any()
    np.testing.assert_array_equal(out, mel.transform(X))
    with pytest.raises(ValueError, match="expecting 6400 features"):
        mel.transform(load_audio(wav_folder))
    with pytest.raises(ValueError, match=r"duration=0\.4 s means 6400 samples.*X has 8000"):
        clone(mel).transform(load_audio(wav_folder))


def test_flatten_and_pandas_output():
    X = tones_and_noise(n_clips=3, n_samples=4096)
    cube = MelSpectrogramTransformer(n_mels=8).transform(X)
    mel = MelSpectrogramTransformer(n_mels=8, flatten=True).set_output(transform="pandas")
    df = mel.fit_transform(X)
    n_frames = 1 + 4096 // 512
    assert mel.n_frames_ == n_frames == cube.shape[2]
    assert df.shape == (3, 8 * n_frames)
    assert df.columns[0] == "mel0_t0" and df.columns[n_frames] == "mel1_t0"
    assert df.columns[3 * n_frames + 7] == "mel3_t7"
    np.testing.assert_array_equal(df.to_numpy(), cube.reshape(3, -1))
    assert df["mel3_t7"].tolist() == cube[:, 3, 7].tolist()


def test_feature_names_need_flatten_and_fit():
    mel = MelSpectrogramTransformer().fit(tones_and_noise())
    assert not hasattr(mel, "get_feature_names_out") and not hasattr(mel, "set_output")
    with pytest.raises(AttributeError) as err:
        mel.get_feature_names_out()
    assert "needs flatten=True" in str(err.value.__cause__)
    with pytest.raises(NotFittedError):
        MelSpectrogramTransformer(flatten=True).get_feature_names_out()


def test_feature_names_after_fitting_paths(wav_folder):
    mel = MelSpectrogramTransformer(n_mels=4, flatten=True).fit(wav_folder)
    names = mel.get_feature_names_out()
    assert len(names) == mel.transform(wav_folder).shape[1] == 4 * (1 + 8000 // 512)


def test_in_a_pipeline_with_a_detector():
    from sklearn.ensemble import IsolationForest

    X = tones_and_noise(n_clips=12, n_samples=4096)
    pipe = make_pipeline(MelSpectrogramTransformer(n_mels=16, flatten=True),
                         IsolationForest(random_state=0)).fit(X)
    assert pipe.score_samples(X).shape == (12,)


def test_clone_and_pickle():
    X = tones_and_noise()
    mel = MelSpectrogramTransformer(n_mels=32, top_db=80.0, window=np.hanning(1024)).fit(X)
    copy = clone(mel)
    assert copy.get_params()["n_mels"] == 32 and not hasattr(copy, "n_features_in_")
    back = pickle.loads(pickle.dumps(mel))
    assert back.n_frames_ == mel.n_frames_
    np.testing.assert_array_equal(back.transform(X), mel.transform(X))


def test_transform_checks_the_length_seen_in_fit():
    mel = MelSpectrogramTransformer().fit(tones_and_noise(n_samples=4096))
    with pytest.raises(ValueError, match="expecting 4096 features"):
        mel.transform(tones_and_noise(n_samples=8192))
    with pytest.raises(ValueError, match="expecting 4096 features"):
        mel.transform(tones_and_noise(n_samples=8192)[:, np.newaxis])
    # Unfitted, it is stateless and takes any length.
    assert MelSpectrogramTransformer().transform(tones_and_noise(n_samples=8192)).shape[2] == 17


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_name_the_clip(bad):
    X = tones_and_noise(n_clips=5, n_samples=2048)
    X[3, 100] = bad
    for mel in (MelSpectrogramTransformer(), MelSpectrogramTransformer(n_jobs=2)):
        with pytest.raises(ValueError, match=r"NaN or inf samples in clip 3 \(X\[3\]\)"):
            mel.fit(X)
        with pytest.raises(ValueError, match=r"clip 3"):
            mel.transform(X)
    X3 = np.stack([X, np.zeros_like(X)], axis=1)
    with pytest.raises(ValueError, match=r"clip 3"):
        MelSpectrogramTransformer(channel="mean").transform(X3)
    # A non-finite sample in a channel that is not used does no harm.
    assert np.isfinite(MelSpectrogramTransformer(channel=1).transform(X3)).all()


def test_non_finite_file_names_clip_and_file(tmp_path, wav_folder):
    data = np.zeros(8000, dtype=np.float32)
    data[10] = np.nan
    bad = tmp_path / "broken.wav"
    sf.write(bad, data, 16000, subtype="FLOAT")
    with pytest.raises(AudioReadError, match=r"broken\.wav.*NaN or infinite"):
        MelSpectrogramTransformer(n_jobs=2).transform([*wav_folder[:2], bad, wav_folder[3]])


def test_huge_samples_are_not_mistaken_for_nan_nor_returned_as_inf():
    X = np.zeros((3, 2048))
    X[1] = 1e300  # finite, but the float64 sum screen overflows and so would the power
    mel = MelSpectrogramTransformer().fit(X)  # finite: fit accepts it
    with pytest.raises(ValueError, match="clip 1 overflows float32: its samples are too large"):
        mel.transform(X)


def test_short_clips_are_padded_with_librosas_warning():
    # As librosa.stft: a centred clip shorter than n_fft is zero-padded, with a warning.
    X = tones_and_noise(n_clips=3, n_samples=100)
    with pytest.warns(UserWarning, match=r"n_fft=1024 is too large.*length=100"):
        S = MelSpectrogramTransformer().fit_transform(X)
    for clip, row in zip(X, S, strict=True):
        with pytest.warns(UserWarning, match="n_fft=1024 is too large"):
            expected = librosa_log_mel(clip.astype(np.float64))
        np.testing.assert_allclose(row, expected, atol=1e-3)
    with pytest.raises(ValueError, match=r"too short.*center=False"):
        MelSpectrogramTransformer(center=False).fit(X)


def test_short_files_are_padded_with_a_warning(wav_folder):
    with pytest.warns(UserWarning, match=r"files yield 8000 samples"):
        S = MelSpectrogramTransformer(n_fft=16384).transform(wav_folder)
    assert S.shape[2] == 1 + 8000 // 512 and np.isfinite(S).all()


def _empty(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0), 16000)
    return path


def _text(tmp_path):
    path = tmp_path / "readme.wav"
    path.write_text("not audio")
    return path


def _missing(tmp_path):
    return tmp_path / "gone.wav"


@pytest.mark.parametrize("dtype, scale", [(np.int16, 2**15), (np.int32, 2**31), (np.int8, 2**7)])
def test_integer_pcm_is_scaled_as_soundfile_does(tmp_path, dtype, scale):
    rng = np.random.default_rng(0)
    pcm = (rng.uniform(-0.5, 0.5, (3, 4096)) * scale).astype(dtype)
    expected = MelSpectrogramTransformer().transform(pcm.astype(np.float64) / scale)
    np.testing.assert_allclose(MelSpectrogramTransformer().transform(pcm), expected, atol=1e-4)
    # The reported case: soundfile.read(..., dtype="int16") of a file, against its float read.
    path = tmp_path / "clip.wav"
    sf.write(path, (rng.uniform(-0.5, 0.5, 4096) * 2**15).astype(np.int16), 16000)
    as_int, _ = sf.read(path, dtype="int16")
    np.testing.assert_allclose(MelSpectrogramTransformer().transform(as_int[None]),
                               MelSpectrogramTransformer().transform([path]), atol=1e-4)


def test_uint8_is_offset_binary_and_wider_unsigned_is_refused():
    X = np.full((2, 2048), 128, dtype=np.uint8)
    np.testing.assert_array_equal(MelSpectrogramTransformer().transform(X),
                                  MelSpectrogramTransformer().transform(np.zeros((2, 2048))))
    with pytest.raises(ValueError, match="uint16, which has no audio meaning"):
        MelSpectrogramTransformer().transform(X.astype(np.uint16))


@pytest.mark.parametrize("make", [_empty, _text, _missing])
@pytest.mark.parametrize("duration", [None, 0.5])
def test_unreadable_files_are_named(tmp_path, wav_folder, make, duration):
    bad = make(tmp_path)
    with pytest.raises(ValueError, match=bad.name):
        MelSpectrogramTransformer(duration=duration).transform([*wav_folder, bad])


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros(4096), "Reshape your data"),
        (np.zeros((2, 2, 2, 4096)), "4-D input"),
        (np.zeros((0, 4096)), "0 sample"),
        (np.zeros((2, 0, 4096)), "0 channels"),
        ([], "empty"),
        ("clip.wav", "single path"),
        (["a.wav", 3.0], "mixes file paths"),
    ],
    ids=["1-D", "4-D", "no clips", "no channels", "empty list", "one path", "mixed"],
)
def test_bad_inputs(X, match):
    with pytest.raises(ValueError, match=match):
        MelSpectrogramTransformer().fit(X)
    with pytest.raises(ValueError, match=match):
        MelSpectrogramTransformer().transform(X)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_fft": 0}, "n_fft"),
        ({"hop_length": 0}, "hop_length"),
        ({"sr": -1}, "sr"),
        ({"win_length": 2048}, "win_length=2048 must be <= n_fft=1024"),
        ({"fmin": 9000.0}, r"fmin=9000.0 must be below fmax=8000.0"),
        ({"fmin": 500.0, "fmax": 400.0}, "fmin=500.0 must be below fmax=400.0"),
        ({"power": 0.0}, "power"),
        ({"top_db": -1.0}, "top_db"),
        ({"channel": "left"}, "channel"),
        ({"channel": -1}, "channel"),
        ({"duration": 0.0}, "duration"),
        ({"window": "no-such-window"}, "window='no-such-window'"),
        ({"window": np.ones(7)}, "window="),
        ({"n_jobs": 0}, "n_jobs=0"),
        ({"flatten": "yes"}, "flatten"),
    ],
)
def test_invalid_parameters_are_named(params, match):
    X = tones_and_noise(n_clips=2, n_samples=4096)
    mel = MelSpectrogramTransformer(**params)  # __init__ accepts anything
    with pytest.raises(ValueError, match=match):
        mel.fit(X)
    with pytest.raises(ValueError, match=match):
        mel.transform(X)


def expected_n_frames(n_samples, n_fft, hop_length, center):
    if center:
        return 1 + (n_samples + 2 * (n_fft // 2) - n_fft) // hop_length
    return 1 + (n_samples - n_fft) // hop_length


@settings(max_examples=20, deadline=None)
@given(
    n_fft=st.sampled_from([64, 100, 256, 511, 512]),
    hop_fraction=st.floats(0.05, 1.5),
    extra=st.integers(0, 3000),
    center=st.booleans(),
    n_mels=st.integers(1, 8),
    n_clips=st.integers(1, 3),
    top_db=st.one_of(st.none(), st.floats(0, 120)),
)
def test_shapes_dtype_and_finiteness(n_fft, hop_fraction, extra, center, n_mels, n_clips, top_db):
    n_samples = n_fft + extra
    hop_length = max(1, int(n_fft * hop_fraction))
    rng = np.random.default_rng(extra)
    X = rng.standard_normal((n_clips, n_samples)).astype(np.float32)
    mel = MelSpectrogramTransformer(n_fft=n_fft, hop_length=hop_length, center=center,
                                    n_mels=n_mels, top_db=top_db)
    out = mel.fit_transform(X)
    n_frames = expected_n_frames(n_samples, n_fft, hop_length, center)
    if center and n_fft % 2 == 0:
        assert n_frames == 1 + n_samples // hop_length
    elif not center:
        assert n_frames == 1 + (n_samples - n_fft) // hop_length
    assert out.shape == (n_clips, n_mels, n_frames)
    assert mel.n_frames_ == n_frames
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    assert out.min() >= -100.001  # 10 * log10(amin)
    np.testing.assert_allclose(
        out[0],
        librosa_log_mel(X[0], n_fft=n_fft, hop_length=hop_length, center=center,
                        n_mels=n_mels, top_db=top_db),
        rtol=0,
        atol=1e-3,
    )


# -- the real recordings -------------------------------------------------------------


def test_mimii_channel0_equals_librosa(shared_data):
    folder = shared_data / "mimii" / "fan" / "id_00"
    paths = [folder / "normal" / "00000000.wav", folder / "abnormal" / "00000000.wav"]
    out = MelSpectrogramTransformer(n_jobs=2).fit_transform(paths)
    arrays = np.stack([sf.read(p, dtype="float32")[0].T for p in paths])  # (2, 8, 160000)
    assert arrays.shape == (2, 8, 160000)
    expected = librosa_batch(arrays[:, 0])
    assert out.shape == expected.shape == (2, 64, 313)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(MelSpectrogramTransformer().transform(arrays), out)


def test_dcase_mono_equals_librosa(shared_data):
    dev = shared_data / "dcase2020" / "dev_data"
    paths = [sorted((dev / machine / "test").glob("*.wav"))[0] for machine in ("fan", "valve")]
    params = dict(n_mels=128, top_db=80.0)
    out = MelSpectrogramTransformer(**params).transform(paths)
    expected = librosa_batch([librosa.load(p, sr=None)[0] for p in paths], **params)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-4)


def test_dcase_toycar_length_needs_duration(shared_data):
    dev = shared_data / "dcase2020" / "dev_data"
    paths = [sorted((dev / machine / "test").glob("*.wav"))[0] for machine in ("fan", "ToyCar")]
    with pytest.raises(ValueError, match=r"160000 samples.*176000 samples"):
        MelSpectrogramTransformer().transform(paths)
    out = MelSpectrogramTransformer(duration=10.0).transform(paths)
    assert out.shape == (2, 64, 313)
