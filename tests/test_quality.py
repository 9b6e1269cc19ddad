"""The shared mixing rule and the default detector on real recordings with background."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from skaudio_ad import ConvAutoencoderDetector, MelSpectrogramTransformer
from skaudio_ad.datasets import mix_background
from skaudio_ad.io import load_audio


def _snr(signal, mixed):
    added = mixed.astype(np.float64) - signal
    return 10 * np.log10(np.mean(signal**2, axis=-1) / np.mean(added**2, axis=-1))


def test_mix_background_sets_the_snr_of_each_clip():
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(3, 1000)) * np.array([[0.1], [1.0], [10.0]])
    background = rng.normal(size=(3, 400))  # shorter: looped
    for snr in (6.0, -6.0, -12.0):
        mixed = mix_background(signal, background, snr, offset=123)
        np.testing.assert_allclose(_snr(signal, mixed), snr, atol=1e-9)
    # Looped from the offset, then scaled: the added sound is the background's own samples.
    added = mix_background(signal, background, 0.0, offset=123) - signal
    index = (123 + np.arange(1000)) % 400
    ratio = added / background[:, index]
    np.testing.assert_allclose(ratio, ratio[:, :1] * np.ones((1, 1000)), rtol=1e-9)
    # A longer background is cropped; one 1-D background serves every clip.
    long = rng.normal(size=5000)
    mixed = mix_background(signal.astype(np.float32), long, -6.0)
    assert mixed.dtype == np.float32
    np.testing.assert_allclose(_snr(signal, mixed), -6.0, atol=1e-3)


def test_mix_background_refuses_what_it_cannot_mix():
    signal = np.ones((2, 100))
    with pytest.raises(ValueError, match="snr_db"):
        mix_background(signal, np.ones(10), float("nan"))
    with pytest.raises(ValueError, match="leading shape"):
        mix_background(signal, np.ones((3, 10)), 0.0)
    with pytest.raises(ValueError, match="silent"):
        mix_background(signal, np.zeros(10), 0.0)
    with pytest.raises(ValueError, match="offset"):
        mix_background(signal, np.ones(10), 0.0, offset=-1)
    with pytest.raises(ValueError, match="NaN"):
        mix_background(signal, np.array([1.0, np.inf]), 0.0)


@pytest.mark.slow
def test_default_detects_mimii_fan_anomalies_under_background(shared_data):
    """MIMII fan id_00 with the DCASE pump and valve recordings mixed in at -6 dB."""
    fan = shared_data / "mimii" / "fan" / "id_00"
    normal = sorted((fan / "normal").glob("*.wav"))
    abnormal = sorted((fan / "abnormal").glob("*.wav"))
    pool = sorted((shared_data / "dcase2020" / "dev_data").glob("[pv]*/test/*.wav"))
    waves = load_audio(normal + abnormal, sr=16000, duration=10.0)
    backgrounds = load_audio(pool, sr=16000, duration=10.0)
    rng = np.random.default_rng(0)
    picks = backgrounds[rng.integers(len(backgrounds), size=len(waves))]
    X = MelSpectrogramTransformer(sr=16000).fit_transform(mix_background(waves, picks, -6.0))
    X_train, X_test = X[:10], X[10:]
    y_test = np.r_[np.zeros(10), np.ones(len(abnormal))]
    detector = ConvAutoencoderDetector(random_state=0).fit(X_train)
    assert roc_auc_score(y_test, -detector.score_samples(X_test)) > 0.9
    assert np.mean(detector.predict(X_test[:10]) == -1) <= 0.2
