"""Audio layer: loading, quality gate, frame-aligned features. Synthetic signals with known answers, plus
real speech rendered by espeak-ng (skipped when it is not installed)."""
from __future__ import annotations

import shutil
import subprocess

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from multikd.audio import features as feat
from multikd.audio.config import AudioConfig
from multikd.audio.io import load_audio, save_wav
from multikd.audio.quality import AudioRejected, Reject, loudness_lufs, normalize_loudness, preprocess, trim_silence
from multikd.errors import AudioError, ConfigError

torch.set_num_threads(1)
CFG = AudioConfig()
SR = CFG.sample_rate


def sine(freq: float, seconds: float, amp: float = 0.5, sr: int = SR) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def speechlike(seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Harmonic tone with a syllable-rate envelope: has real loudness gating behaviour, unlike a pure sine."""
    t = np.arange(int(seconds * sr)) / sr
    x = sum(np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 20))
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    noise = np.random.default_rng(seed).normal(0, 0.01, len(t))
    return (0.1 * x * env + noise).astype(np.float32)


# ------------------------------------------------------------------------------------------- config ---

def test_config_round_trip_and_unknown_key():
    cfg = AudioConfig(n_mels=64, fmax=7600.0)
    assert AudioConfig.from_dict(cfg.to_dict()) == cfg
    assert AudioConfig.from_dict({"fmax": 7000}).fmax == 7000.0  # YAML int for a float field
    with pytest.raises(ConfigError, match="n_mel"):
        AudioConfig.from_dict({"n_mel": 80})
    with pytest.raises(ConfigError, match="fmax"):
        AudioConfig.from_dict({"fmax": 20000.0})
    with pytest.raises(ConfigError, match="hop_length"):
        AudioConfig.from_dict({"hop_length": "256"})


# ----------------------------------------------------------------------------------------------- io ---

def test_load_missing_empty_and_corrupt_files_name_the_file(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    zero = tmp_path / "zero_samples.wav"
    sf.write(zero, np.zeros(0, np.float32), SR)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
    cases = [(empty, Reject.EMPTY), (zero, Reject.EMPTY), (corrupt, Reject.UNREADABLE),
             (tmp_path / "missing.wav", Reject.UNREADABLE)]
    for path, reason in cases:
        with pytest.raises(AudioError) as err:
            load_audio(path, SR)
        assert err.value.reason == reason
        assert path.name in str(err.value)
        assert err.value.fix
    for source, reason in [(b"", Reject.EMPTY), ({"path": None, "bytes": None}, Reject.UNREADABLE),
                           (12345, Reject.UNREADABLE)]:
        with pytest.raises(AudioRejected) as err:
            load_audio(source, SR)
        assert err.value.reason == reason
    with pytest.raises(AudioRejected, match="utt_007") as err:  # an id given by the caller wins
        load_audio(corrupt.read_bytes(), SR, where="utt_007")
    assert err.value.reason == Reject.UNREADABLE


def test_stereo_is_downmixed(tmp_path):
    left, right = sine(220, 0.5, 0.4), sine(330, 0.5, 0.2)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), SR, subtype="FLOAT")
    wav = load_audio(path, SR)
    assert wav.dtype == np.float32 and wav.shape == left.shape
    np.testing.assert_allclose(wav, (left + right) / 2, atol=1e-6)


def test_resample_16k_to_22k_keeps_length_and_pitch(tmp_path):
    path = tmp_path / "16k.wav"
    sf.write(path, sine(200, 1.0, sr=16000), 16000)
    wav = load_audio(path, SR)
    assert len(wav) == SR
    f = feat.f0(wav, CFG, "dio")[5:-5]
    assert np.median(f[f > 0]) == pytest.approx(200, rel=0.01)


def test_hf_audio_dicts_and_bytes(tmp_path):
    x = sine(220, 0.3)
    path = save_wav(tmp_path / "a" / "x.wav", x, SR)
    data = path.read_bytes()
    for source in (data, {"path": None, "bytes": data}, {"path": str(path), "bytes": None},
                   {"path": "gone/x.wav", "bytes": data}, {"array": x.astype(np.float64), "sampling_rate": SR}):
        np.testing.assert_allclose(load_audio(source, SR), x, atol=1e-4)  # 16-bit PCM rounding


def test_torchcodec_style_decoder():
    """datasets >= 4 hands out decoder objects; duck-typed here so the test needs no torchcodec."""
    stereo = torch.from_numpy(np.stack([sine(220, 0.3, 0.4), sine(220, 0.3, 0.2)]))  # [C, T]

    class Decoder:
        def get_all_samples(self):
            return type("Samples", (), {"data": stereo, "sample_rate": 16000})()

    wav = load_audio(Decoder(), SR)
    assert len(wav) == round(stereo.shape[1] * SR / 16000)
    assert np.abs(wav).max() == pytest.approx(0.3, abs=0.01)


def test_save_wav_clips_instead_of_wrapping(tmp_path):
    path = save_wav(tmp_path / "loud.wav", np.array([0.0, 1.5, -2.0, 0.25], np.float32), SR)
    back, sr = sf.read(path, dtype="float32")
    assert sr == SR
    np.testing.assert_allclose(back, [0.0, 1.0, -1.0, 0.25], atol=1e-4)


# ------------------------------------------------------------------------------------------ quality ---

def reason_of(wav: np.ndarray, cfg: AudioConfig = CFG) -> Reject:
    with pytest.raises(AudioRejected) as err:
        preprocess(wav, SR, cfg, where="utt1")
    assert "utt1" in str(err.value)
    return err.value.reason


def test_rejection_reasons():
    assert reason_of(np.zeros(0, np.float32)) == Reject.EMPTY
    assert reason_of(np.zeros(SR * 2, np.float32)) == Reject.SILENT
    assert reason_of(np.random.default_rng(0).normal(0, 1e-4, SR * 2).astype(np.float32)) == Reject.SILENT
    assert reason_of(np.clip(sine(220, 2.0, amp=3.0), -1, 1)) == Reject.CLIPPED
    assert reason_of(sine(220, 0.2)) == Reject.TOO_SHORT
    assert reason_of(sine(220, 3.0), AudioConfig(max_seconds=2.0)) == Reject.TOO_LONG
    # A short tone padded with silence is too short once trimmed, not before.
    padded = np.concatenate([np.zeros(SR), sine(220, 0.2), np.zeros(SR)]).astype(np.float32)
    assert reason_of(padded) == Reject.TOO_SHORT
    # One full-scale peak sample is a normalised file, not a clipped one.
    ok = sine(220, 1.0)
    ok[100] = 1.0
    preprocess(ok, SR, CFG)


def test_trim_removes_padding_but_keeps_signal():
    tone = sine(220, 1.0)
    wav = np.concatenate([np.zeros(SR // 2), tone, np.zeros(SR // 2)]).astype(np.float32)
    out, (start, end) = trim_silence(wav, SR, CFG)
    margin = int(CFG.trim_margin_s * SR)
    # Every tone sample survives; what is left around it is about the margin (one frame of slack).
    assert start <= SR // 2 and end >= SR // 2 + len(tone)
    assert SR // 2 - start == pytest.approx(margin, abs=CFG.win_length)
    assert end - (SR // 2 + len(tone)) == pytest.approx(margin, abs=CFG.win_length)
    assert np.sum(out**2) == pytest.approx(np.sum(tone**2), rel=1e-6)


def test_loudness_normalisation_reaches_target():
    quiet = speechlike(3.0) * 0.05
    assert loudness_lufs(quiet, SR) < CFG.loudness_target_lufs - 10
    out, info = normalize_loudness(quiet, SR, CFG)
    assert not info["peak_limited"]
    assert loudness_lufs(out, SR) == pytest.approx(CFG.loudness_target_lufs, abs=0.1)
    # A target that would push the peak past the limit is missed on purpose, and reported.
    spiky = quiet.copy()
    spiky[SR] = 0.9
    out, info = normalize_loudness(spiky, SR, AudioConfig(loudness_target_lufs=-10.0))
    assert info["peak_limited"] and info["lufs_after"] < -10.0
    assert 20 * np.log10(np.abs(out).max()) == pytest.approx(CFG.peak_limit_dbfs, abs=0.01)


def test_preprocess_info():
    wav = np.concatenate([np.zeros(SR), speechlike(2.0) * 0.1, np.zeros(SR)]).astype(np.float32)
    out, info = preprocess(wav, SR, CFG)
    assert info["seconds_in"] == pytest.approx(4.0) and 2.0 <= info["seconds"] < 2.3
    assert len(out) == info["trim"][1] - info["trim"][0]
    assert loudness_lufs(out, SR) == pytest.approx(CFG.loudness_target_lufs, abs=0.1)


# ----------------------------------------------------------------------------------------- features ---

@pytest.mark.parametrize("method", ["dio", "harvest", "yin", "pyin"])
@pytest.mark.parametrize("freq", [110.0, 233.0])
def test_f0_of_sine(method, freq):
    # A length that is not a multiple of the hop; a little noise because harvest calls a mathematically
    # pure sine unvoiced (a degenerate case no recording has).
    wav = sine(freq, 1.0)[: SR - 77] + np.random.default_rng(1).normal(0, 1e-3, SR - 77).astype(np.float32)
    f = feat.f0(wav, CFG, method)
    assert f.shape == (1 + len(wav) // CFG.hop_length,) and f.dtype == np.float32
    inner = f[4:-4]  # edge frames see the zero padding
    assert (inner > 0).mean() > 0.9
    np.testing.assert_allclose(inner[inner > 0], freq, rtol=0.02)


@pytest.mark.parametrize("method", ["dio", "harvest", "yin", "pyin"])
def test_f0_and_energy_frames_are_centred_on_i_times_hop(method):
    """A pitch jump and a loudness step at a known sample show up at the frame centred there."""
    hop, switch = CFG.hop_length, 50 * CFG.hop_length  # frame 50 is centred on the jump
    noise = np.random.default_rng(2).normal(0, 1e-3, 2 * switch).astype(np.float32)
    wav = np.concatenate([sine(150, switch / SR, 0.2), sine(300, switch / SR, 0.6)]) + noise
    f = feat.f0(wav, CFG, method)
    np.testing.assert_allclose(f[10:45], 150, rtol=0.02)
    np.testing.assert_allclose(f[55:90], 300, rtol=0.02)
    e = feat.energy(wav, CFG)
    # Frame 50 straddles the step symmetrically: its energy lies halfway (in power) between the plateaus.
    lo, hi = e[30:40].mean(), e[60:70].mean()
    assert np.sqrt((lo**2 + hi**2) / 2) == pytest.approx(e[50], rel=0.05)
    assert e[47] < e[50] < e[53]


def test_f0_unvoiced_on_silence_and_unknown_method():
    assert not feat.f0(np.zeros(SR, np.float32), CFG, "yin").any()
    assert not feat.f0(np.zeros(SR, np.float32), CFG, "dio").any()
    with pytest.raises(AudioError, match="crepe"):
        feat.f0(sine(220, 0.5), CFG, "crepe")


@pytest.mark.parametrize("n", [1, 100, 511, 1024, 22050 + 77])
def test_all_features_have_the_same_frames(n):
    wav = np.random.default_rng(n).normal(0, 0.1, n).astype(np.float32)
    out = feat.extract_features(wav, CFG)
    frames = CFG.n_frames(n)
    assert out["n_frames"] == frames
    assert out["mel"].shape == (CFG.n_mels, frames) and out["mel"].dtype == torch.float32
    assert out["f0"].shape == out["energy"].shape == (frames,)


def test_log_mel_batched_equals_single():
    wavs = np.stack([sine(150, 0.5), speechlike(0.5), np.zeros(SR // 2, np.float32)])
    batch = feat.log_mel(torch.from_numpy(wavs), CFG)
    assert batch.shape == (3, CFG.n_mels, CFG.n_frames(wavs.shape[1]))
    for i, w in enumerate(wavs):
        torch.testing.assert_close(batch[i], feat.log_mel(w, CFG), rtol=1e-5, atol=1e-5)
    assert torch.allclose(batch[2], torch.full_like(batch[2], np.log(feat.LOG_MEL_FLOOR)))  # silence: the floor


def test_log_mel_puts_a_tone_in_the_right_band_and_energy_is_parseval():
    amp = 0.5
    mel = feat.log_mel(sine(1000, 1.0, amp), CFG)
    centres = librosa.mel_frequencies(CFG.n_mels + 2, fmin=CFG.fmin, fmax=CFG.fmax)[1:-1]
    band = int(mel[:, 20:-20].mean(dim=1).argmax())
    assert abs(centres[band] - 1000) < 60
    basis = feat.mel_basis(CFG)
    assert basis.shape == (CFG.n_mels, CFG.n_fft // 2 + 1)
    e = feat.energy(sine(1000, 1.0, amp), CFG)[5:-5]
    np.testing.assert_allclose(e, amp * CFG.n_fft * np.sqrt(3 / 32), rtol=0.02)


def test_speaker_pitch_stats():
    stats = feat.speaker_pitch_stats([np.array([0, 100, 200, 0.0]), np.array([400.0])])
    assert stats["n_voiced"] == 3 and stats["mean"] == pytest.approx(700 / 3)
    assert stats["log_mean"] == pytest.approx(np.log(200))
    assert stats["log_std"] == pytest.approx(np.std(np.log([100, 200, 400])))
    with pytest.raises(AudioError, match="voiced"):
        feat.speaker_pitch_stats([np.zeros(10)])


# ------------------------------------------------------------------------------ real speech (espeak) ---

@pytest.fixture(scope="module")
def espeak_wav(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng): no real-speech fixture")
    path = tmp_path_factory.mktemp("espeak") / "sentence.wav"
    text = "The rainbow is a division of white light into many beautiful colours."
    subprocess.run(["espeak-ng", "-v", "en", "-w", str(path), text], check=True, capture_output=True)
    return path


@pytest.mark.parametrize("method", ["dio", "yin"])
def test_espeak_male_voice_pitch_and_mel(espeak_wav, method):
    wav, info = preprocess(load_audio(espeak_wav, SR), SR, CFG, where=str(espeak_wav))
    assert 2.0 < info["seconds"] < 8.0
    out = feat.extract_features(wav, CFG, f0_method=method)
    f, mel, e = out["f0"], out["mel"], out["energy"]
    voiced = f[f > 0]
    assert (f > 0).mean() > 0.3, "a read sentence is mostly voiced"
    assert 70 < np.median(voiced) < 200, "espeak-ng's default English voice is male"
    assert torch.isfinite(mel).all() and mel.min() >= np.log(feat.LOG_MEL_FLOOR) - 1e-4
    assert -2.0 < mel.max() < 5.0, "loudness-normalised speech peaks in this log-mel range"
    # Voiced frames carry more energy than the rest; the loudest mel bands of speech are below 4 kHz.
    assert e[f > 0].mean() > 2 * e[f == 0].mean()
    band_hz = librosa.mel_frequencies(CFG.n_mels + 2, fmin=CFG.fmin, fmax=CFG.fmax)[1:-1]
    assert band_hz[int(mel.mean(dim=1).argmax())] < 4000
