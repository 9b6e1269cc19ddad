"""The Slaney mel scale, mel filters and the periodic Hann window, without importing librosa.

Bit for bit what ``librosa.filters.mel`` (``htk=False, norm="slaney"``) and
``librosa.filters.get_window("hann", n, fftbins=True)`` return (tests/test_startup.py
compares them), written out because importing librosa costs 0.4-1.7 s on a 2-core machine
(numba compiles or loads its ufuncs, and ``librosa.filters`` imports all of ``scipy.signal``):
more than the rest of a one-file ``skaudio-ad score``. Anything else falls back to librosa.
"""

import warnings

import numpy as np

__all__ = ["hann_window", "mel_filters", "mel_frequencies"]

_F_SP = 200.0 / 3  # Hz per mel below 1 kHz
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def _hz_to_mel(hz):
    hz = np.asanyarray(hz, dtype=np.float64)
    mels = hz / _F_SP
    log = hz >= _MIN_LOG_HZ
    return np.where(log, _MIN_LOG_MEL + np.log(np.where(log, hz, 1.0) / _MIN_LOG_HZ) / _LOGSTEP,
                    mels)


def _mel_to_hz(mels):
    mels = np.array(mels, dtype=np.float64)
    freqs = _F_SP * mels
    log = mels >= _MIN_LOG_MEL
    freqs[log] = _MIN_LOG_HZ * np.exp(_LOGSTEP * (mels[log] - _MIN_LOG_MEL))
    return freqs


def mel_frequencies(n_mels, *, fmin, fmax):
    """``n_mels`` frequencies (Hz) evenly spaced on the Slaney mel scale, as librosa's.

    Parameters
    ----------
    n_mels : int > 0
        Number of frequencies.
    fmin, fmax : float >= 0
        First and last frequency in Hz.

    Returns
    -------
    hz : np.ndarray [shape=(n_mels,)], dtype float64
    """
    mels = np.linspace(float(_hz_to_mel(fmin)), float(_hz_to_mel(fmax)), n_mels)
    return _mel_to_hz(mels)


def mel_filters(*, sr, n_fft, n_mels, fmin, fmax):
    """Slaney-normalised triangular mel filters, float32 ``(n_mels, 1 + n_fft // 2)``."""
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mel_f = mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax)
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels])
    weights *= enorm[:, np.newaxis]
    if not np.all((mel_f[:-2] == 0) | (weights.max(axis=1) > 0)):
        warnings.warn(
            "Empty filters detected in mel frequency basis. Some channels will produce empty "
            "responses. Try increasing your sampling rate (and fmax) or reducing n_mels.",
            stacklevel=3,
        )
    return weights, mel_f


def hann_window(win_length, n_fft):
    """The periodic Hann window of ``win_length`` samples, zero-padded to ``n_fft`` (centred)."""
    # scipy.signal.windows.general_cosine with a = (0.5, 0.5), sym=False, operation by operation.
    fac = np.linspace(-np.pi, np.pi, win_length + 1)
    w = np.zeros(win_length + 1)
    for k, a in enumerate((0.5, 0.5)):
        w += a * np.cos(k * fac)
    w = w[:-1]
    lpad = (n_fft - win_length) // 2
    return np.pad(w, (lpad, n_fft - win_length - lpad))
