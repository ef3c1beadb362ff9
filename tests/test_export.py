"""ONNX export: graphs agree with torch; a voice folder speaks with onnxruntime and no torch."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
import torch

from conftest import REPO, requires
from multikd.audio.config import AudioConfig
from multikd.cli.main import main
from multikd.export.bench import random_model_dir, random_vocoder_dir
from multikd.export.graphs import export_acoustic, export_vocoder
from multikd.models.bench import build
from multikd.vocoder.vocos import VocosConfig, VocosGenerator


def _session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def acoustic(tmp_path_factory):
    model = build("tiny")  # random weights, 80 symbols, 4 languages, 8 speakers
    with torch.no_grad():  # realistic durations (~5 frames per phone) with some spread between phones
        bins = model.variance.duration_bins
        model.variance.duration.net.head.bias.copy_(-((bins.centres("cpu") - math.log1p(5)) / 0.5).square())
    return model, _session(export_acoustic(model, tmp_path_factory.mktemp("onnx") / "acoustic.onnx"))


@pytest.mark.parametrize("n,lang,spk,speed", [(3, 0, 0, 1.0), (17, 1, 5, 1.0), (41, 3, 7, 1.3), (64, 2, 2, 0.7)])
def test_acoustic_onnx_matches_torch(acoustic, n, lang, spk, speed):
    model, sess = acoustic
    ids = torch.randint(8, 80, (1, n), generator=torch.Generator().manual_seed(n))
    ref = model.inference(ids, torch.tensor([n]), torch.tensor([lang]), torch.tensor([spk]), speed=speed)
    mel, durations = sess.run(None, {"phone_ids": ids.numpy(), "language_id": np.array([lang]),
                                     "speaker_id": np.array([spk]), "speed": np.array([speed], np.float32)})
    assert np.array_equal(durations, ref["durations"].numpy())
    assert len(set(durations[0].tolist())) > 1  # durations really vary, so the regulator is exercised
    assert mel.shape == tuple(ref["mel"].shape) and mel.shape[1] == durations.sum()
    assert np.abs(mel - ref["mel"].numpy()).max() < 1e-4


def test_vocoder_onnx_matches_torch(tmp_path):
    torch.manual_seed(0)
    gen = VocosGenerator(VocosConfig.preset("small", AudioConfig())).eval()
    sess = _session(export_vocoder(gen, tmp_path / "vocoder.onnx"))
    for batch, frames in ((1, 2), (1, 57), (2, 300)):
        mel = torch.randn(batch, frames, 80, generator=torch.Generator().manual_seed(frames)) - 5
        with torch.no_grad():
            ref = gen(mel).numpy()
        out = sess.run(None, {"mel": mel.numpy()})[0]
        assert out.shape == ref.shape == (batch, (frames - 1) * 256)
        assert np.abs(out - ref).max() < 1e-4 * max(1.0, np.abs(ref).max())


NO_TORCH = """
import sys, json
sys.modules["torch"] = None  # any import of torch now raises ImportError
from multikd.export.runtime import OnnxVoice
voice = OnnxVoice(sys.argv[1])
mel = voice.mel(sys.argv[2], "spa", speed=1.1)
wav, sr = voice.speak(sys.argv[2], "spa", speed=1.1)
import numpy as np
np.save(sys.argv[3], mel)
print(json.dumps({"samples": len(wav), "sr": sr, "peak": float(np.abs(wav).max()),
                  "torch": any(m.startswith("torch") for m, v in sys.modules.items() if v is not None)}))
"""


@requires("espeak-ng")
@pytest.mark.parametrize("vocoder", ["vocos", "griffinlim"])
def test_voice_speaks_without_torch_like_the_synthesizer(tmp_path, vocoder):
    from multikd.synthesis import Synthesizer

    text = "El perro corre por el parque. ¿Dónde está la casa?"
    model = random_model_dir(tmp_path / "model", preset="tiny", texts={"spa": text, "cat": "Bon dia."})
    voc = str(random_vocoder_dir(tmp_path / "voc", size="tiny")) if vocoder == "vocos" else "griffinlim"
    assert main(["export", "--model", str(model), "--vocoder", voc, "-o", str(tmp_path / "voice")]) == 0
    config = json.loads((tmp_path / "voice" / "voice.json").read_text(encoding="utf-8"))
    assert config["format"] == "multikd-voice" and config["audio"]["hop_length"] == 256
    assert config["symbols"]["symbols"][:3] == ["<pad>", "<bos>", "<eos>"]
    spa = next(x for x in config["languages"] if x["iso"] == "spa")
    assert spa["lang_toml"]["g2p"]["espeak_voice"] == "es" and "order" in spa["lang_toml"]["g2p"]
    assert {"onnx", "onnxruntime", "torch", "opset"} <= set(config["versions"])
    assert config["model_card"]["languages"] == ["cat", "spa"] and config["speakers"][0]["id"] == 0
    assert config["vocoder"]["type"] == ("onnx" if vocoder == "vocos" else "griffinlim")

    out = subprocess.run([sys.executable, "-c", NO_TORCH, str(tmp_path / "voice"), text, str(tmp_path / "mel.npy")],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["torch"] is False and res["sr"] == 22050 and 0 < res["peak"] <= 1.0
    ref = Synthesizer(model, vocoder=voc).mel(text, "spa", speed=1.1).numpy()
    mel = np.load(tmp_path / "mel.npy")
    assert mel.shape == ref.shape and np.abs(mel - ref).max() < 1e-4
    assert res["samples"] == (mel.shape[0] - 1) * 256


@requires("espeak-ng")
def test_numpy_griffinlim_inverts_a_real_mel(tmp_path):
    import librosa
    import soundfile as sf

    from multikd.audio.features import log_mel, mel_basis
    from multikd.export.runtime import NumpyGriffinLim

    cfg = AudioConfig()
    subprocess.run(["espeak-ng", "-w", str(tmp_path / "x.wav"), "The quick brown fox jumps over the lazy dog."], check=True)
    wav, sr = sf.read(tmp_path / "x.wav", dtype="float32")
    mel = log_mel(librosa.resample(wav, orig_sr=sr, target_sr=cfg.sample_rate), cfg).T  # [T, n_mels]
    out = NumpyGriffinLim(mel_basis(cfg).numpy(), cfg.to_dict())(mel.numpy())
    assert out.shape == ((mel.shape[0] - 1) * cfg.hop_length,)
    again = log_mel(torch.from_numpy(out), cfg).T
    convergence = float((mel.exp() - again.exp()).norm() / mel.exp().norm())
    assert convergence < 0.15, convergence  # the torch Griffin-Lim's bound (test_synthesis)
