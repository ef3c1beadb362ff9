"""``multikd export``: a trained model folder (+ a vocoder) → a voice folder that runs with onnxruntime alone.

Voice folder::

    voice.json      everything synthesis needs (see :func:`voice_config`): symbol table, languages with
                    their lang.toml (G2P order, espeak voice, epitran code…), speakers, audio settings,
                    synthesis constants, the graphs' inputs and outputs, versions, model card
    acoustic.onnx   phone_ids [1, N], language_id [1], speaker_id [1], speed [1] → mel [1, M, n_mels], durations [1, N]
    vocoder.onnx    mel [B, T, n_mels] → wav [B, (T - 1) · hop]          (a neural vocoder), or
    mel_basis.npy   the mel filterbank for the numpy Griffin-Lim fallback   (``--vocoder griffinlim``)

The folder is written into a temporary sibling and renamed into place, so an interrupted export never
leaves a half-written voice behind.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np

from multikd.errors import ConfigError
from multikd.export.graphs import ACOUSTIC_INPUTS, ACOUSTIC_OUTPUTS, OPSET, export_acoustic, export_vocoder
from multikd.export.runtime import VOICE_FORMAT, VOICE_VERSION

log = logging.getLogger(__name__)


def _model_card(model_dir: Path, n_acoustic: int, n_vocoder: int | None, norm, vocoder_spec: str) -> dict:
    """Card fields: what the voice is, where it came from, what it was trained on (from the run folder)."""
    from multikd.train.runinfo import git_commit

    run_json = model_dir.parent / "run.json"
    run = json.loads(run_json.read_text(encoding="utf-8")) if run_json.is_file() else {}
    return {
        "name": model_dir.parent.name if model_dir.name == "model" else model_dir.name,
        "languages": list(norm.languages),
        "speakers": len(norm.speakers),
        "acoustic_parameters": n_acoustic,
        "vocoder_parameters": n_vocoder,
        "source_model": str(model_dir.resolve()),
        "source_vocoder": vocoder_spec,
        "training_data": [d.get("folder") for d in run.get("data", [])],
        "training_commit": run.get("git_commit"),
        "export_commit": git_commit(),
        "exported": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "limitations": "speaks only the listed languages and speakers; quality is that of its training data "
                       "(the built-in demo corpus is synthetic speech)",
    }


def voice_config(synth, vocoder_entry: dict, card: dict) -> dict:
    """The voice.json dict for a loaded :class:`multikd.synthesis.Synthesizer` ``synth``."""
    import onnx
    import onnxruntime

    from multikd.audio.features import LOG_MEL_FLOOR
    from multikd.synthesis import SENTENCE_PAUSE_S
    from multikd.text.languages import get_language
    from multikd.train.runinfo import versions

    norm = synth.norm
    return {
        "format": VOICE_FORMAT,
        "version": VOICE_VERSION,
        "audio": synth.audio.to_dict(),
        "symbols": synth.symbols.to_dict(),
        "languages": [{"iso": iso, "id": i, "name": get_language(iso).name, "lang_toml": get_language(iso).raw}
                      for i, iso in enumerate(norm.languages)],
        "speakers": [{"name": s, "id": i, "languages": norm.speaker_languages.get(s, [])}
                     for i, s in enumerate(norm.speakers)],
        "synthesis": {"sentence_pause_s": SENTENCE_PAUSE_S, "log_mel_floor": LOG_MEL_FLOOR},
        "acoustic": {"file": "acoustic.onnx", "inputs": list(ACOUSTIC_INPUTS), "outputs": list(ACOUSTIC_OUTPUTS),
                     "config": {k: getattr(synth.model.config, k) for k in
                                ("hidden", "encoder_layers", "decoder_layers", "heads", "n_mels")}},
        "vocoder": vocoder_entry,
        "versions": {**versions(), "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__, "opset": OPSET},
        "model_card": card,
    }


def export_voice(model_dir: str | Path, out_dir: str | Path, vocoder: str = "griffinlim") -> Path:
    """Export ``model_dir`` (``RUN/model``) with ``vocoder`` (``griffinlim`` or a trained vocos folder).

    Raises:
        ConfigError: a model folder that is not exported, a vocoder folder that is not a trained Vocos
            vocoder, or a vocoder trained on other mel settings.
    """
    from multikd.audio.features import mel_basis
    from multikd.synthesis import Synthesizer
    from multikd.vocoder import GriffinLim
    from multikd.vocoder.vocos import VocosVocoder

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    synth = Synthesizer(model_dir, vocoder=vocoder)
    tmp = out_dir.parent / f".{out_dir.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    export_acoustic(synth.model, tmp / "acoustic.onnx")
    n_vocoder = None
    if isinstance(synth.vocoder, VocosVocoder):
        gen = synth.vocoder.generator
        export_vocoder(gen, tmp / "vocoder.onnx")
        n_vocoder = sum(p.numel() for p in gen.parameters())
        entry = {"type": "onnx", "name": "vocos", "file": "vocoder.onnx", "inputs": ["mel"], "outputs": ["wav"],
                 "config": {k: getattr(gen.config, k) for k in ("dim", "intermediate", "layers")}}
    elif isinstance(synth.vocoder, GriffinLim):
        np.save(tmp / "mel_basis.npy", mel_basis(synth.audio).numpy())
        g = synth.vocoder
        entry = {"type": "griffinlim", "mel_basis": "mel_basis.npy",
                 "settings": {"n_iter": g.n_iter, "momentum": g.momentum, "refine_steps": g.refine_steps,
                              "seed": g.seed}}
    else:
        raise ConfigError(f"vocoder {vocoder!r} cannot be exported", fix="use griffinlim or a train-vocoder folder")
    n_acoustic = sum(p.numel() for n, p in synth.model.named_parameters() if not n.startswith("aligner."))
    card = _model_card(model_dir, n_acoustic, n_vocoder, synth.norm, str(vocoder))
    config = voice_config(synth, entry, card)
    (tmp / "voice.json").write_text(json.dumps(config, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    log.info("voice written to %s", out_dir)
    return out_dir
