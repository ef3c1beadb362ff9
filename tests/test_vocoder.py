"""The Vocos-style vocoder: inverse STFT, save/load through the registry, GAN training, resume, distillation."""
from __future__ import annotations

import json
import logging

import pytest
import torch
import yaml
from safetensors.torch import load_file

from conftest import requires
from multikd.audio.config import AudioConfig
from multikd.cli.main import main
from multikd.errors import ConfigError
from multikd.train.checkpoints import list_checkpoints, read_state
from multikd.vocoder import load_vocoder
from multikd.vocoder.discriminators import (Discriminators, discriminator_loss, feature_matching_loss,
                                            generator_adversarial_loss)
from multikd.vocoder.train import load_vocoder_recipe, train_vocoder
from multikd.vocoder.vocos import ISTFT, VocosConfig, VocosGenerator, VocosVocoder


@pytest.mark.parametrize("n_fft,hop,win", [(1024, 256, 1024), (512, 128, 400)])
def test_istft_equals_torch_istft(n_fft, hop, win):
    x = torch.randn(2, hop * 37, generator=torch.Generator().manual_seed(0))
    window = torch.hann_window(win)
    spec = torch.stft(x, n_fft, hop, win, window, center=True, pad_mode="constant", return_complex=True)
    ours = ISTFT(n_fft, hop, win)(spec.real, spec.imag)
    ref = torch.istft(spec, n_fft, hop, win, window, center=True, length=ours.shape[1])
    assert ours.shape == (2, (spec.shape[-1] - 1) * hop)
    assert torch.allclose(ours, ref, atol=1e-5)
    assert torch.allclose(ours, x[:, : ours.shape[1]], atol=1e-5)  # and it inverts the STFT


def test_generator_shapes_sizes_and_round_trip(tmp_path):
    audio = AudioConfig()
    sizes = {s: sum(p.numel() for p in VocosGenerator(VocosConfig.preset(s, audio)).parameters())
             for s in ("tiny", "small")}
    assert sizes["tiny"] < sizes["small"] < 1_000_000  # the student vocoder stays under 1 M parameters
    torch.manual_seed(0)
    gen = VocosGenerator(VocosConfig.preset("tiny", audio)).eval()
    mel = torch.randn(3, 25, 80) - 5
    with torch.no_grad():
        wav = gen(mel)
    assert wav.shape == (3, 24 * audio.hop_length) and torch.isfinite(wav).all()
    gen.save_pretrained(str(tmp_path / "voc"))
    assert json.loads((tmp_path / "voc" / "config.json").read_text())["vocoder"] == "vocos"
    voc = load_vocoder(str(tmp_path / "voc"), audio)
    assert isinstance(voc, VocosVocoder)
    assert torch.allclose(voc.vocode(mel), wav.clamp(-1, 1), atol=1e-6)  # the reloaded weights are the same
    with pytest.raises(ConfigError, match="other mel settings"):
        load_vocoder(str(tmp_path / "voc"), AudioConfig(hop_length=200))
    with pytest.raises(ConfigError, match="unknown vocoder size"):
        VocosConfig.preset("huge")


def test_discriminator_losses_are_finite_and_behave():
    discs = Discriminators(channels=4)
    real, fake = torch.randn(2, 4096) * 0.1, torch.randn(2, 4096) * 0.1
    (rl, rf), (fl, ff) = discs(real), discs(fake)
    assert len(rl) == 8 and all(torch.isfinite(x).all() for x in rl)  # 5 periods + 3 resolutions
    assert torch.isfinite(discriminator_loss(rl, fl)) and torch.isfinite(generator_adversarial_loss(fl))
    with torch.no_grad():
        assert float(feature_matching_loss(rf, rf)) == 0.0 and float(feature_matching_loss(rf, ff)) > 0


def _recipe(folder, prepared, **train):
    settings = {"batch_size": 2, "max_steps": 4, "save_every": 2, "keep_last": 3, "log_every": 1, **train}
    recipe = {"name": "tiny-vocoder", "data": {"card": "unused.md", "prepared": [str(prepared)]},
              "vocoder": {"size": "tiny", "discriminator_channels": 4, "segment_frames": 16},
              "train": settings}
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    from test_train import make_prepared

    return make_prepared(tmp_path_factory.mktemp("vocoder-corpus"))


@requires("espeak-ng")
def test_train_resume_equals_uninterrupted_and_distil(prepared, tmp_path, caplog):
    recipe = _recipe(tmp_path, prepared)
    # Uninterrupted 4 steps through the CLI.
    assert main(["train-vocoder", str(recipe), "--run-dir", str(tmp_path / "a"), "--no-progress"]) == 0
    a = tmp_path / "a"
    assert [s for s, _ in list_checkpoints(a)] == [2, 4]
    for name in ("config.yaml", "run.json", "sample.wav", "model/model.safetensors", "model/audio.json",
                 "discriminator/model.safetensors"):
        assert (a / name).is_file(), name
    # Interrupted after 2 steps, then resumed to 4: the same weights as the uninterrupted run.
    train_vocoder(load_vocoder_recipe(recipe, ["train.max_steps=2"]), tmp_path / "b", progress=False)
    result = train_vocoder(load_vocoder_recipe(recipe), tmp_path / "b", progress=False)
    assert result.step == 4 and read_state(list_checkpoints(tmp_path / "b")[-1][1])["step"] == 4
    assert len(json.loads((tmp_path / "b" / "run.json").read_text())["resumes"]) == 1
    wa, wb = load_file(str(a / "model" / "model.safetensors")), load_file(str(tmp_path / "b" / "model" / "model.safetensors"))
    # Equal up to float reordering (measured ≤ 3e-6 after 4 steps); training moved them far more than that.
    assert all(torch.allclose(wa[k], wb[k], atol=1e-4) for k in wa)
    init = VocosGenerator(VocosConfig.preset("tiny")).state_dict()
    assert max(float((wa[k] - init[k]).abs().max()) for k in wa) > 1e-3  # and training changed them
    # Distillation from run a: the teacher's discriminators are reused (no "from scratch" warning).
    with caplog.at_level(logging.WARNING, logger="multikd.vocoder.train"):
        res = train_vocoder(load_vocoder_recipe(recipe, ["train.max_steps=2", f"vocoder.distill_from={a}"]),
                            tmp_path / "student", progress=False)
    assert res.step == 2 and "from scratch" not in caplog.text
    assert "non-finite" not in caplog.text  # every step's losses were finite
    student = load_vocoder(str(res.model_dir), AudioConfig())
    assert torch.isfinite(student.vocode(torch.randn(1, 20, 80) - 5)).all()


@requires("espeak-ng")
def test_packed_audio_trains_without_datasets_soundfile_librosa(prepared, tmp_path, monkeypatch):
    import sys

    import numpy as np
    import soundfile as sf

    from multikd.audio import features
    from multikd.vocoder.packed import PackedAudio, pack_audio
    from multikd.vocoder.train import SegmentDataset

    full = pack_audio([prepared], tmp_path / "packed")
    small = pack_audio([prepared], tmp_path / "packed-small", max_megabytes=0.2)
    assert 0 < small["utterances"] < full["utterances"] == full["of_training_utterances"]
    assert set(small["seconds_per_speaker"]) == set(full["seconds_per_speaker"])  # every voice kept a share
    # The packed wavs are the prepared ones, sample for sample, and segments read the same either way.
    unpacked = SegmentDataset([prepared], 16, seed=0)
    packed = SegmentDataset([tmp_path / "packed"], 16, seed=0)
    assert sorted(packed.lengths) == sorted(unpacked.lengths)
    pa = PackedAudio(tmp_path / "packed")
    j = next(i for i, f in enumerate(unpacked.files) if f.stem == pa.items[0]["id"])
    assert np.array_equal(pa[0], sf.read(str(unpacked.files[j]), dtype="int16")[0])
    assert np.array_equal(packed.read(0), sf.read(str(unpacked.files[j]), dtype="float32")[0])
    expected = features.log_mel(torch.from_numpy(packed.read(0)), packed.audio)
    # A GPU machine: none of these can be imported. Training reads the packed folder and builds the log-mel
    # from the stored mel basis.
    monkeypatch.setattr(features, "_mel_basis_np", features._mel_basis_np)  # restored after the test
    for name in ("datasets", "soundfile", "librosa"):
        monkeypatch.setitem(sys.modules, name, None)
    features.mel_basis.__globals__["_mel_basis_np"].cache_clear()
    recipe = _recipe(tmp_path, tmp_path / "packed", max_steps=2)
    result = train_vocoder(load_vocoder_recipe(recipe), tmp_path / "run", progress=False)
    assert result.step == 2 and (tmp_path / "run" / "sample.wav").is_file()
    assert torch.allclose(features.log_mel(torch.from_numpy(packed.read(0)), packed.audio), expected, atol=1e-5)
    with pytest.raises(ImportError):
        SegmentDataset([prepared], 16, seed=0)  # the unpacked path needs datasets: the block was real
