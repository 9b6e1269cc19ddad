"""Mixing background sound into machine recordings at a stated signal-to-noise ratio."""

import numbers

import numpy as np

__all__ = ["mix_background"]


def mix_background(signal, background, snr_db, *, offset=0):
    """Add ``background`` to ``signal`` so that their power ratio is ``snr_db`` decibels.

    The one mixing rule of the project's benchmarks and tests. The SNR is the ratio of the
    mean power (mean of the squared samples over the whole clip) of ``signal`` to that of the
    background *as added*, i.e. after it was looped or cropped to the clip's length:
    ``10 * log10(mean(signal**2) / mean(gain**2 * background_fitted**2)) == snr_db``.
    MIMII's "-6 dB" is the same definition (machine sound 6 dB below the factory noise).

    Parameters
    ----------
    signal : np.ndarray [shape=(..., n_samples)]
        Machine recordings, one clip per row; any leading shape.
    background : np.ndarray [shape=(n_background_samples,) or (..., n_background_samples)]
        Background sound. A 1-D background is used for every clip; otherwise its leading shape
        must match ``signal``'s, one background per clip. A background shorter than the clip
        is looped (tiled), a longer one cropped, starting at ``offset``.
    snr_db : float
        Target ratio in dB of the signal's mean power to the added background's; lower is
        noisier (-6 means the background carries 4 times the machine's power).
    offset : int >= 0, default=0
        First background sample used (modulo its length), so that one long background yields
        different segments.

    Returns
    -------
    mixed : np.ndarray [shape=signal.shape]
        ``signal + gain * background_fitted``, float64 (or float32 for float32 input).

    Raises
    ------
    ValueError
        When ``snr_db`` or either input is not finite, ``offset`` is negative, the shapes do
        not match, or a background has no power while its clip has some.

    Examples
    --------
    >>> import numpy as np
    >>> from skaudio_ad.datasets import mix_background
    >>> rng = np.random.default_rng(0)
    >>> machine = np.sin(np.linspace(0, 2000, 16000))
    >>> noise = rng.normal(size=4000)  # looped to the clip's length
    >>> mixed = mix_background(machine, noise, -6.0)
    >>> added = mixed - machine
    >>> round(float(10 * np.log10(np.mean(machine**2) / np.mean(added**2))), 6)
    -6.0
    """
    if not isinstance(snr_db, numbers.Real) or not np.isfinite(snr_db):
        raise ValueError(f"snr_db must be a finite number of decibels; got {snr_db!r}.")
    if not isinstance(offset, numbers.Integral) or offset < 0:
        raise ValueError(f"offset must be an integer >= 0; got {offset!r}.")
    signal = np.asarray(signal)
    background = np.asarray(background)
    dtype = np.float32 if signal.dtype == np.float32 else np.float64
    if signal.ndim < 1 or signal.shape[-1] == 0:
        raise ValueError(f"signal must have at least one sample; got shape {signal.shape}.")
    if background.ndim < 1 or background.shape[-1] == 0:
        raise ValueError(
            f"background must have at least one sample; got shape {background.shape}."
        )
    if background.ndim > 1 and background.shape[:-1] != signal.shape[:-1]:
        raise ValueError(
            f"background of shape {background.shape} does not match signal of shape "
            f"{signal.shape}: pass one 1-D background, or one background per clip with the "
            f"leading shape {signal.shape[:-1]}."
        )
    for name, array in (("signal", signal), ("background", background)):
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} contains NaN or infinite samples.")
    n = signal.shape[-1]
    index = (offset + np.arange(n)) % background.shape[-1]
    fitted = background[..., index].astype(np.float64)
    signal64 = signal.astype(np.float64)
    p_signal = np.mean(signal64**2, axis=-1, keepdims=True)
    p_background = np.mean(fitted**2, axis=-1, keepdims=True)
    if np.any((p_background == 0) & (p_signal > 0)):
        raise ValueError("A background clip is silent (zero power): it cannot set an SNR.")
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(
            p_background > 0, np.sqrt(p_signal / (p_background * 10 ** (snr_db / 10))), 0.0
        )
    return (signal64 + gain * fitted).astype(dtype)
