"""Synthesis (Python API and CLI), Griffin-Lim, the vocoder registry and alignment export."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import requires
from multikd.audio.config import AudioConfig
from multikd.audio.features import log_mel
from multikd.cli.main import main
from multikd.errors import ConfigError, SymbolTableError, UnknownLanguageError
from multikd.synthesis import Synthesizer, UnknownSpeakerError, split_sentences
from multikd.recipe import load_recipe
from multikd.train.loop import train
from multikd.vocoder import GriffinLim, load_vocoder
from test_train import make_prepared, write_recipe

pytestmark = requires("espeak-ng")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    prepared = make_prepared(root)
    recipe = write_recipe(root, prepared, max_steps=30, save_every=30, warmup_steps=5, lr=5e-3)
    result = train(load_recipe(recipe), root / "run", progress=False)
    return {"model": result.model_dir, "prepared": prepared}


def _espeak_mel(tmp_path, cfg):
    import librosa

    subprocess.run(["espeak-ng", "-w", str(tmp_path / "x.wav"), "The quick brown fox jumps over the lazy dog."],
                   check=True)
    wav, sr = sf.read(tmp_path / "x.wav", dtype="float32")
    return log_mel(librosa.resample(wav, orig_sr=sr, target_sr=cfg.sample_rate), cfg).T  # [T, n_mels]


def test_griffinlim_reconstructs_a_real_mel(tmp_path):
    cfg = AudioConfig()
    mel = _espeak_mel(tmp_path, cfg)
    wav = GriffinLim(cfg).vocode(mel[None])
    assert wav.shape == (1, (mel.shape[0] - 1) * cfg.hop_length) and wav.abs().max() <= 1.0
    again = log_mel(wav[0], cfg).T
    assert again.shape == mel.shape
    target, got = mel.exp(), again.exp()
    convergence = float((target - got).norm() / target.norm())  # spectral convergence on the mel magnitude
    assert convergence < 0.15, convergence  # measured 0.09 with 32 iterations; random phase gives ~0.5
    assert float((mel - again).abs().mean()) < 0.35
    # Batched vocoding of the same mel gives the same audio as one at a time.
    assert torch.allclose(GriffinLim(cfg).vocode(torch.stack([mel, mel]))[1], wav[0], atol=1e-4)


def test_vocoder_registry(tmp_path):
    cfg = AudioConfig()
    assert isinstance(load_vocoder("griffinlim", cfg), GriffinLim)
    (tmp_path / "config.json").write_text(json.dumps({"vocoder": "griffinlim"}))
    assert isinstance(load_vocoder(str(tmp_path), cfg), GriffinLim)
    with pytest.raises(ConfigError, match="unknown vocoder 'hifigan'"):
        load_vocoder("hifigan", cfg)
    (tmp_path / "config.json").write_text(json.dumps({"vocoder": "nope"}))
    with pytest.raises(ConfigError, match="not registered"):
        load_vocoder(str(tmp_path), cfg)


def test_split_sentences():
    phones = ["a", "#", "b", ".", "c", "?", "d", "!", "e", ","]
    assert split_sentences(phones) == [["a", "#", "b", "."], ["c", "?"], ["d", "!"], ["e", ","]]
    assert split_sentences(["a", ".", "#"]) == [["a", ".", "#"]]
    assert split_sentences([".", "#"]) == []


def test_speak_api_and_typed_errors(trained):
    synth = Synthesizer(trained["model"])
    assert synth.languages == ["cat", "spa"]
    one, sr = synth.speak("El perro corre.", "spa")
    assert sr == 22050 and one.dtype == np.float32 and one.ndim == 1 and np.abs(one).max() <= 1.0
    two, _ = synth.speak("El perro corre. El perro corre.", "es", speaker="espeak-es+f3")
    # Two sentences: both spoken, with a pause between (not one sentence stretched).
    assert len(two) > 1.5 * len(one)
    slow, _ = synth.speak("El perro corre.", "spa", speed=0.5)
    assert len(slow) > 1.4 * len(one)
    with pytest.raises(UnknownLanguageError, match="does not speak 'deu'"):
        synth.speak("Guten Tag.", "deu")
    with pytest.raises(UnknownLanguageError, match="unknown language"):
        synth.speak("hola", "xx-not-a-language")
    with pytest.raises(UnknownSpeakerError, match="espeak-es"):
        synth.speak("hola", "spa", speaker="nobody")
    with pytest.raises(SymbolTableError, match="'ɲ'.*nearest known"):  # "ñ": a phone no training utterance had
        synth.speak("El niño.", "spa")


def test_synthesize_cli_writes_a_plausible_wav(trained, tmp_path, capsys):
    out = tmp_path / "out.wav"
    assert main(["synthesize", "--model", str(trained["model"]), "--lang", "spa", "-o", str(out),
                 "La casa es muy grande."]) == 0
    wav, sr = sf.read(out)
    seconds = len(wav) / sr
    # 16 phones: the 30-step model has learnt roughly how long espeak-ng speaks (1.5 s for this sentence).
    assert sr == 22050 and 0.3 < seconds < 6.0, seconds
    assert np.abs(wav).max() > 0.01
    assert main(["synthesize", "--model", str(trained["model"]), "--lang", "deu", "-o", str(out), "Hallo"]) == 2
    assert "does not speak 'deu'" in capsys.readouterr().err


def test_align_cli_exports_durations(trained, tmp_path):
    out = tmp_path / "align"
    assert main(["align", "--model", str(trained["model"]), "--prepared", str(trained["prepared"]),
                 "-o", str(out), "--no-progress"]) == 0
    rows = [json.loads(x) for x in (out / "durations.jsonl").read_text().splitlines()]
    assert len(rows) == 6  # every split, the held-out utterance included
    for r in rows:
        assert len(r["durations"]) == len(r["phones"]) and sum(r["durations"]) == r["n_frames"]
        assert r["phones"][0] == "<bos>" and 0.0 < r["confidence"] <= 1.0
    import datasets

    assert datasets.load_from_disk(str(out / "dataset")).num_rows == 6


def test_bench_teacher_scores_every_language(trained, tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["bench", "teacher", "--model", str(trained["model"]), "--test", str(trained["prepared"]),
                 "--per-language", "1", "--no-wer", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert sorted(r["language"] for r in summary) == ["cat", "spa"]
    for r in summary:
        assert r["n"] == 1 and r["mcd_db"]["mean"] > 0 and r["mcd_resynth_db"]["mean"] >= 0
    assert "| spa " in capsys.readouterr().out


def test_unseen_phone_is_embedded_from_its_features_when_asked(trained, caplog):
    synth = Synthesizer(trained["model"], unseen_phones="features")
    before = synth.symbols.symbols
    old_rows = synth.model.embed.ids.weight.detach().clone()
    wav, sr = synth.speak("El niño.", "spa")  # "ɲ": refused by default (test above), embedded here
    assert len(wav) > 0.2 * sr and np.isfinite(wav).all()
    assert synth.symbols.symbols[: len(before)] == before and synth.symbols.symbols[-1] == "ɲ"  # appended
    rows = synth.model.embed.ids.weight.detach()
    assert torch.equal(rows[: len(before)], old_rows)  # no existing row moved
    from multikd.models.vocab import nearest_rows

    weights = nearest_rows("ɲ", [p for p in before[8:]], synth.symbols)
    expected = sum(w * old_rows[i] for i, w in weights.items())
    assert torch.allclose(rows[synth.symbols.id("ɲ")], expected) and float(expected.abs().sum()) > 0
    assert synth.model.embed.phone_features.shape[0] == len(synth.symbols)
    assert "'ɲ' is not in the model's table" in caplog.text
    with pytest.raises(ConfigError):
        Synthesizer(trained["model"], unseen_phones="guess")
