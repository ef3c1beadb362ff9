"""Mel-cepstrum of a WORLD spectral envelope: SPTK's ``freqt`` warping of the real cepstrum, in numpy.

Why not pysptk at run time: pysptk 1.0.1 (the newest release) builds and installs on Python 3.11, but its
``pysptk.util`` does ``import pkg_resources``, which setuptools >= 81 no longer ships, so ``import pysptk``
fails in a fresh environment unless setuptools is pinned below 81. The mel-cepstrum of an envelope is a
fixed linear map (real cepstrum, then the all-pass frequency warping of SPTK's ``freqt``), so it is done
here with numpy; ``tests/test_metrics.py`` checks it against ``pysptk.sp2mc`` (to 1e-8) wherever pysptk
imports. The spectral envelope itself comes from WORLD's CheapTrick (pyworld, a required dependency).

Convention: the cepstrum of the *amplitude* envelope, ln|H(ω)| = Σ c̃_m cos-terms on the warped axis, as
SPTK's ``mcep`` returns for a waveform. ``pysptk.sp2mc(power_envelope)`` is exactly twice this (it takes
the log of the power spectrum), which is the usual factor-of-two disagreement between published MCDs.
"""
from __future__ import annotations

import functools

import numpy as np

__all__ = ["mcep_alpha", "freqt_matrix", "envelope_to_mcep"]


def _mel_scale_vector(sr: int, n: int) -> np.ndarray:
    """The mel scale 1000/ln2 · ln(1 + f/1000) over [0, sr/2), normalised to end at 1."""
    f = (sr / 2.0) / n * np.arange(n)
    mel = 1000.0 / np.log(2.0) * np.log1p(f / 1000.0)
    return mel / mel[-1]


def _warped_frequency_vector(alpha: float, n: int) -> np.ndarray:
    """Phase response of the first-order all-pass z⁻¹ → (z⁻¹ − α)/(1 − α z⁻¹) over [0, π), normalised."""
    w = np.pi / n * np.arange(n)
    warped = np.arctan2((1.0 - alpha * alpha) * np.sin(w), (1.0 + alpha * alpha) * np.cos(w) - 2.0 * alpha)
    warped = np.where(warped < 0, warped + np.pi, warped)
    return warped / warped[-1]


@functools.lru_cache(maxsize=16)
def mcep_alpha(sr: int) -> float:
    """All-pass constant whose warping best fits the mel scale at ``sr`` Hz (SPTK/pysptk ``mcepalpha``).

    Least RMS distance over a 0.001 grid in [0, 1): 0.410 at 16 kHz, 0.455 at 22.05 kHz, 0.466 at 24 kHz.
    """
    mel = _mel_scale_vector(sr, 1000)
    grid = np.arange(0.0, 1.0, 0.001)
    dist = [np.sqrt(np.mean((mel - _warped_frequency_vector(a, 1000)) ** 2)) for a in grid]
    return float(grid[int(np.argmin(dist))])


@functools.lru_cache(maxsize=8)
def freqt_matrix(n_in: int, order: int, alpha: float) -> np.ndarray:
    """SPTK ``freqt`` as a matrix: ``mc = A @ c`` warps cepstrum ``c`` [n_in] to ``mc`` [order + 1].

    ``freqt`` is linear in its input, so its recursion (input coefficients fed from the last to the
    first through a cascade of all-pass sections) is run once on all unit vectors at the same time;
    every frame then costs one matrix product.

    Returns:
        float64 [order + 1, n_in]; cached per (n_in, order, alpha).
    """
    b = 1.0 - alpha * alpha
    d = np.zeros((order + 1, n_in))
    for k in range(n_in - 1, -1, -1):
        g = d.copy()
        d[0] = alpha * g[0]
        d[0, k] += 1.0
        if order >= 1:
            d[1] = b * g[0] + alpha * g[1]
        for j in range(2, order + 1):
            d[j] = g[j - 1] + alpha * (g[j] - d[j - 1])
    return d


def envelope_to_mcep(power_envelope: np.ndarray, order: int, alpha: float) -> np.ndarray:
    """Mel-cepstrum of a power spectral envelope (WORLD CheapTrick output), amplitude convention.

    Args:
        power_envelope: float [n_frames, fft_size // 2 + 1], power (|H|², not dB), all values > 0.
        order: highest coefficient; the result holds c̃_0 .. c̃_order.
        alpha: all-pass constant (:func:`mcep_alpha`).
    Returns:
        float64 [n_frames, order + 1]: c̃_0 is the log gain (natural log of amplitude), c̃_1.. the shape.
    """
    log_power = np.log(np.maximum(power_envelope, 1e-300))  # CheapTrick floors itself; this guards zeros
    c = np.fft.irfft(log_power, axis=1)  # [n_frames, fft_size], real cepstrum of the power envelope
    c[:, 0] /= 2.0
    # Halving turns the power cepstrum into the amplitude cepstrum (ln|H| = ½ ln|H|²); freqt is linear.
    return 0.5 * c @ freqt_matrix(c.shape[1], order, alpha).T
