"""Evaluation metrics on real human speech (tests/fixtures/speech, see its SOURCES.md).

Core metrics (MCD, F0, V/UV, duration) need no optional package. Judges (DNSMOS, speaker similarity,
pocketsphinx WER) are skipped, with the reason, when their package is not installed.
"""
from __future__ import annotations

import json
import math
import struct
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from multikd.errors import ConfigError
from multikd.evaluate import (EVAL_SR, Metric, evaluate_pairs, get_metric, mean_ci, measure_rtf,
                              metric_names, model_cost, register_metric)
from multikd.evaluate.mcep import envelope_to_mcep, mcep_alpha
from multikd.evaluate.wer import edit_distance, normalize_for_wer, pooled_wer, word_errors

SPEECH = Path(__file__).parent / "fixtures" / "speech"
LIBRI = SPEECH / "librivox_sense_sensibility_0930.wav"    # male LibriVox reader, transcript next to it
LIBRI2 = SPEECH / "librivox_sense_sensibility_0880.wav"   # same reader, another sentence
ARCTIC = SPEECH / "arctic_awb_a0007.wav"                  # CMU ARCTIC "awb", adult male


def _load(path: Path) -> np.ndarray:
    wav, sr = sf.read(path, dtype="float32")
    assert sr == EVAL_SR
    return wav


def _with_noise(wav: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(len(wav)).astype(np.float32)
    noise *= np.sqrt(np.mean(wav ** 2) / np.mean(noise ** 2)) / 10 ** (snr_db / 20)
    return wav + noise


def _lowpass(wav: np.ndarray, cutoff_hz: float) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    return sosfiltfilt(butter(8, cutoff_hz, fs=EVAL_SR, output="sos"), wav).astype(np.float32)


def _judge(name: str) -> Metric:
    m = get_metric(name)
    reason = m.unavailable()
    if reason:
        pytest.skip(reason)
    return m


# ------------------------------------------------------------------------------ registry and stats ---

def test_registry_lists_every_metric_with_a_description():
    assert {"mcd", "f0_rmse", "vuv_error", "duration", "pitch", "dnsmos", "speaker_sim", "wer"} <= set(metric_names())
    for name in metric_names():
        m = get_metric(name)
        assert m.name == name and m.keys and len(m.describe()) > 40
    assert "c1..c24" in get_metric("mcd").describe() and "alpha 0.410" in get_metric("mcd").describe()
    with pytest.raises(ConfigError, match="unknown metric 'mdc'"):
        get_metric("mdc")
    with pytest.raises(TypeError):
        register_metric(int)

    class Nameless(Metric):
        keys = ("x",)

    with pytest.raises(TypeError, match="must set"):
        register_metric(Nameless)


def test_mean_ci_t_interval_bootstrap_and_missing_values():
    from scipy import stats

    x = [1.0, 2.0, 3.0, 4.0, 10.0]
    t = mean_ci(x + [float("nan"), None], method="t")
    lo, hi = stats.t.interval(0.95, df=4, loc=np.mean(x), scale=stats.sem(x))
    assert t["n"] == 5 and t["n_missing"] == 2 and t["mean"] == pytest.approx(4.0)
    assert (t["ci_low"], t["ci_high"]) == pytest.approx((lo, hi))
    b = mean_ci(x)
    assert b["ci_low"] < 4.0 < b["ci_high"] and b == mean_ci(x)  # seeded: reproducible
    one = mean_ci([2.5])
    assert one["mean"] == 2.5 and math.isnan(one["ci_low"])
    with pytest.raises(ValueError):
        mean_ci(x, method="normal")


# ------------------------------------------------------------------------------- mel-cepstrum -------

def test_mcep_alpha_matches_the_mel_fit_of_sptk():
    assert mcep_alpha(16000) == pytest.approx(0.41)
    assert mcep_alpha(22050) == pytest.approx(0.455)
    assert mcep_alpha(48000) == pytest.approx(0.554)


def test_mcep_equals_pysptk_sp2mc_on_a_world_envelope():
    try:
        import pysptk
    except ImportError as e:  # pysptk 1.0.1 imports pkg_resources (gone from setuptools >= 81)
        pytest.skip(f"pysptk cannot be imported here: {e}")
    import pyworld as pw

    x = _load(ARCTIC).astype(np.float64)[: EVAL_SR]
    f0, t = pw.dio(x, EVAL_SR, frame_period=5.0)
    sp = pw.cheaptrick(x, f0, t, EVAL_SR)
    ours = envelope_to_mcep(sp, 24, 0.41)
    # sp2mc takes the log of the power spectrum: its cepstrum is twice the amplitude cepstrum.
    np.testing.assert_allclose(2 * ours, pysptk.sp2mc(sp, 24, 0.41), atol=1e-8)


# ------------------------------------------------------------------ core metrics on real speech ---

@pytest.mark.parametrize("path", [LIBRI, ARCTIC], ids=["librivox", "arctic"])
def test_file_against_itself_scores_zero(path):
    wav = _load(path)
    assert get_metric("mcd").score(wav, EVAL_SR, wav, EVAL_SR)["mcd_db"] == 0.0
    assert get_metric("f0_rmse").score(wav, EVAL_SR, wav, EVAL_SR)["f0_rmse_cents"] == 0.0
    assert get_metric("vuv_error").score(wav, EVAL_SR, wav, EVAL_SR)["vuv_error"] == 0.0
    assert get_metric("duration").score(wav, EVAL_SR, wav, EVAL_SR)["duration_log_error"] == 0.0


@pytest.mark.parametrize("path", [LIBRI, ARCTIC], ids=["librivox", "arctic"])
def test_mcd_grows_monotonically_with_noise_and_low_pass(path):
    wav = _load(path)
    mcd = get_metric("mcd")
    noisy = [mcd.score(_with_noise(wav, snr), EVAL_SR, wav, EVAL_SR)["mcd_db"] for snr in (30, 20, 10, 0)]
    assert 0.5 < noisy[0] < noisy[1] < noisy[2] < noisy[3] < 15, noisy
    low = [mcd.score(_lowpass(wav, fc), EVAL_SR, wav, EVAL_SR)["mcd_db"] for fc in (6000, 4000, 2000)]
    assert 0.2 < low[0] < low[1] < low[2], low


def test_resampling_a_reference_barely_changes_mcd_and_f0():
    """A 22.05 kHz hypothesis against a 16 kHz reference of the same audio: both are analysed at 16 kHz."""
    from multikd.audio.io import resample

    wav = _load(LIBRI)
    up = resample(wav, EVAL_SR, 22050)
    assert get_metric("mcd").score(up, 22050, wav, EVAL_SR)["mcd_db"] < 0.5
    assert get_metric("f0_rmse").score(up, 22050, wav, EVAL_SR)["f0_rmse_cents"] < 5.0


def test_f0_and_voicing_errors_on_degraded_and_pitch_shifted_speech():
    import librosa

    wav = _load(ARCTIC)
    noisy = _with_noise(wav, 10)
    assert get_metric("f0_rmse").score(noisy, EVAL_SR, wav, EVAL_SR)["f0_rmse_cents"] > 5.0
    assert get_metric("vuv_error").score(noisy, EVAL_SR, wav, EVAL_SR)["vuv_error"] > 0.01
    # Two semitones up is 200 cents; DTW and the phase vocoder's artefacts add some spread.
    shifted = librosa.effects.pitch_shift(wav, sr=EVAL_SR, n_steps=2)
    cents = get_metric("f0_rmse").score(shifted, EVAL_SR, wav, EVAL_SR)["f0_rmse_cents"]
    assert 150.0 < cents < 300.0


def test_known_male_voice_has_a_male_median_f0():
    out = get_metric("pitch").score(_load(ARCTIC), EVAL_SR)  # CMU ARCTIC awb, adult male
    assert 80.0 < out["f0_median_hz"] < 180.0 and 0.2 < out["voiced_fraction"] < 0.9


def test_duration_error_of_time_stretched_speech():
    import librosa

    wav = _load(LIBRI)
    fast = librosa.effects.time_stretch(wav, rate=1.25)  # 0.8 of the length
    out = get_metric("duration").score(fast, EVAL_SR, wav, EVAL_SR)
    assert out["duration_ratio"] == pytest.approx(0.8, abs=0.03)
    assert out["duration_log_error"] == pytest.approx(abs(math.log(0.8)), abs=0.04)
    slow = get_metric("duration").score(wav, EVAL_SR, fast, EVAL_SR)
    assert slow["duration_log_error"] == pytest.approx(out["duration_log_error"], abs=1e-9)  # symmetric


def test_reference_metric_without_reference_is_skipped_not_scored():
    out = get_metric("mcd").score(_load(LIBRI), EVAL_SR)
    assert "skipped" in out and "reference" in out["skipped"]


# ------------------------------------------------------------------------------------ WER text ---

def test_wer_normalisation_and_edit_distance():
    assert normalize_for_wer("Mr. Dashwood's  HOUSE, “Norland”!") == ["mr", "dashwood's", "house", "norland"]
    assert edit_distance("a b c d".split(), "a x c".split()) == 2
    assert word_errors("He was not an ill-disposed man.", "he was not an ill disposed man") == (0, 7)
    assert pooled_wer([(1, 10), (3, 10)]) == pytest.approx(0.2)
    assert math.isnan(pooled_wer([]))


# -------------------------------------------------------------------------------------- judges ---

def test_pocketsphinx_wer_low_on_clean_speech_high_on_noise_and_shuffled_audio():
    wer = _judge("wer")
    wav, text = _load(LIBRI), (SPEECH / "librivox_sense_sensibility_0930.txt").read_text()
    clean = wer.score(wav, EVAL_SR, text=text, lang="eng")
    assert clean["wer"] < 0.3, clean
    noise = np.random.default_rng(1).standard_normal(len(wav)).astype(np.float32) * 0.1
    assert wer.score(noise, EVAL_SR, text=text, lang="eng")["wer"] > 0.8
    # 80 ms chunks in random order: the same sounds, no words.
    chunks = np.array_split(wav, len(wav) // 1280)
    shuffled = np.concatenate([chunks[i] for i in np.random.default_rng(2).permutation(len(chunks))])
    assert wer.score(shuffled, EVAL_SR, text=text, lang="eng")["wer"] > 0.6
    assert "English" in wer.score(wav, EVAL_SR, text=text, lang="cat")["skipped"]


def test_dnsmos_prefers_clean_speech_over_noisy_speech():
    dnsmos = _judge("dnsmos")
    wav = _load(LIBRI)
    clean = dnsmos.score(wav, EVAL_SR)
    noisy = dnsmos.score(_with_noise(wav, 0), EVAL_SR)
    assert clean["dnsmos_ovrl"] > noisy["dnsmos_ovrl"] + 1.0, (clean, noisy)
    assert 1.0 <= noisy["dnsmos_ovrl"] and clean["dnsmos_ovrl"] <= 5.0


def test_speaker_similarity_same_speaker_above_different_speaker():
    sim = _judge("speaker_sim")
    wav = _load(LIBRI)
    half = len(wav) // 2
    same = sim.score(wav[:half], EVAL_SR, wav[half:], EVAL_SR)["speaker_sim"]
    same_other_sentence = sim.score(wav, EVAL_SR, _load(LIBRI2), EVAL_SR)["speaker_sim"]
    other = sim.score(wav[:half], EVAL_SR, _load(ARCTIC), EVAL_SR)["speaker_sim"]
    assert same > other and same_other_sentence > other, (same, same_other_sentence, other)


def test_judge_with_missing_package_reports_skipped(monkeypatch):
    from multikd.evaluate.judges import DNSMOS, PocketsphinxWER

    monkeypatch.setitem(sys.modules, "speechmos", None)  # makes `import speechmos` raise ImportError
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    out = DNSMOS().score(_load(LIBRI), EVAL_SR)
    assert "pip install speechmos" in out["skipped"] and set(out) == {"skipped"}
    assert "pocketsphinx" in PocketsphinxWER().score(_load(LIBRI), EVAL_SR, text="x", lang="eng")["skipped"]


# --------------------------------------------------------------------------- evaluate_pairs -------

def test_evaluate_pairs_rows_and_summary(tmp_path):
    wav = _load(LIBRI)
    text = (SPEECH / "librivox_sense_sensibility_0930.txt").read_text()
    noisy = tmp_path / "noisy.wav"
    sf.write(noisy, _with_noise(wav, 10), EVAL_SR)
    pairs = [(LIBRI, LIBRI, text, "eng"), (noisy, LIBRI, text, "eng"), (ARCTIC, None, "x", "cat")]
    rows, summary = evaluate_pairs(pairs, metrics=["mcd", "duration", "pitch"], progress=False)
    assert len(rows) == 3 and summary["n_pairs"] == 3
    assert rows[0]["mcd_db"] == 0.0 and rows[1]["mcd_db"] > 1.0
    assert "reference" in rows[2]["mcd_skipped"] and "f0_median_hz" in rows[2]
    mcd = summary["values"]["mcd_db"]
    assert mcd["n"] == 2 and mcd["mean"] == pytest.approx(rows[1]["mcd_db"] / 2)
    assert mcd["ci_low"] <= mcd["mean"] <= mcd["ci_high"]
    assert summary["metrics"]["mcd"]["skipped"] == {rows[2]["mcd_skipped"]: 1}
    assert summary["values"]["f0_median_hz"]["n"] == 3
    json.dumps(summary)  # a report writes it as JSON


# ------------------------------------------------------------------------------------- cost ---

def test_model_cost_counts_parameters_from_safetensors_headers(tmp_path):
    from safetensors.numpy import save_file

    save_file({"w": np.zeros((3, 4), np.float32), "b": np.zeros(4, np.float16)}, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text("{}")
    cost = model_cost(tmp_path)
    assert cost["parameters"] == 16 and cost["parameters_by_dtype"] == {"F32": 12, "F16": 4}
    assert cost["folder_bytes"] == cost["weights_bytes"] + 2
    (tmp_path / "bad.safetensors").write_bytes(struct.pack("<Q", 5) + b"nope!")
    with pytest.raises(ConfigError, match="not a safetensors file"):
        model_cost(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no \\*.safetensors"):
        model_cost(tmp_path / "empty")
    with pytest.raises(ConfigError, match="not found"):
        model_cost(tmp_path / "missing")


def test_measure_rtf_is_median_time_over_audio_seconds():
    calls = []

    def synth():
        calls.append(1)
        time.sleep(0.02)
        return np.zeros(EVAL_SR)  # one second of "audio"

    out = measure_rtf(synth, lambda wav: len(wav) / EVAL_SR, n=3, warmup=1)
    assert len(calls) == 4 and out["runs"] == 3 and out["audio_seconds"] == 1.0
    assert 0.015 < out["rtf"] < 0.2 and out["seconds_min"] <= out["seconds_median"]
    with pytest.raises(ValueError):
        measure_rtf(synth, lambda wav: 0.0, n=1, warmup=0)
