"""ONNX graphs of the acoustic model and the neural vocoder.

Acoustic graph (one utterance; N phones and M frames are dynamic)::

    phone_ids [1, N] int64, language_id [1] int64, speaker_id [1] int64, speed [1] float32
        ─▶ mel [1, M, n_mels] float32 (ln-mel), durations [1, N] int64 (frames per phone)

It is :meth:`AcousticModel.inference` for one unpadded utterance, rewritten with ops that trace: the length
regulator's ``searchsorted`` and its Python ``int(total)`` become a comparison against the cumulative
durations and ``arange(total)`` of a tensor, so the frame count stays a graph value instead of the
constant of the traced example. Vocoder graph: ``mel [B, T, n_mels]`` ─▶ ``wav [B, (T - 1) · hop]``
(:class:`~multikd.vocoder.vocos.VocosGenerator`, whose inverse STFT is built from matmuls and pads).

Export uses torch's TorchScript-based exporter (``dynamo=False``): the dynamo exporter treats the predicted
frame count as an unbacked size and fails on the decoder's shape checks; the tracer records it as a
``Range`` over a tensor, which is exactly the data-dependent length we need.
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)

# Opset 17: LayerNormalization is a native op from 17 on, and onnxruntime ≥ 1.14 runs it.
OPSET = 17
ACOUSTIC_INPUTS = ("phone_ids", "language_id", "speaker_id", "speed")
ACOUSTIC_OUTPUTS = ("mel", "durations")


class AcousticForExport(nn.Module):
    """:meth:`AcousticModel.inference` for one utterance with tensor inputs only (see the module docstring).

    ``phone_ids [1, N]``, ``language_id [1]``, ``speaker_id [1]``, ``speed [1]`` → (``mel [1, M, n_mels]``,
    ``durations [1, N]``), identical to ``inference(...)["mel"]`` / ``["durations"]`` for that utterance.
    """

    def __init__(self, model):
        super().__init__()
        self.model = model.eval()

    def forward(self, phone_ids, language_id, speaker_id, speed):
        m = self.model
        v = m.variance
        text_lengths = torch.ones_like(phone_ids).sum(-1)  # [1]: the whole (unpadded) sequence
        _, enc, cond, text_mask, _ = m._encode(phone_ids, text_lengths, language_id, speaker_id, False)
        dur_logits, pitch_logits, energy_logits = v.predict(enc, cond, text_mask)
        # durations_from_logits' rule; exp - 1 because ONNX has no expm1 (equal to float precision for
        # log-durations ≥ 0, far below the rounding to whole frames).
        frames = (torch.exp(v.duration_bins.expected(dur_logits)) - 1) / speed
        durations = torch.round(frames).clamp_min(1).long() * text_mask.long()  # [1, N]
        pitch = v.pitch_bins.expected(pitch_logits) * text_mask
        energy = v.energy_bins.expected(energy_logits) * text_mask
        x = v.add_prosody(enc, pitch, energy, text_mask)  # [1, N, C]
        ends = durations[0].cumsum(0)  # [N]
        t = torch.arange(ends[-1], device=ends.device)  # [M]; a graph value, not a traced constant
        idx = (ends[None, :] <= t[:, None]).sum(-1)  # [M]: index of each frame's phone
        frames = x[:, idx]  # [1, M, C]
        mel_mask = torch.ones_like(idx, dtype=torch.bool)[None]  # [1, M]
        dec, _ = m.decoder(frames, mel_mask, False)
        return m.mel_out(dec), durations


def _export(module: nn.Module, args: tuple, path: Path, inputs, outputs, dynamic_axes: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # The TorchScript exporter announces its deprecation and warns about traced Python values that
        # are constant for our fixed batch of one (the id range checks); neither concerns the graph.
        warnings.simplefilter("ignore")
        with torch.no_grad():
            torch.onnx.export(module, args, str(path), dynamo=False, opset_version=OPSET, input_names=list(inputs),
                              output_names=list(outputs), dynamic_axes=dynamic_axes, do_constant_folding=True)
    log.info("wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def export_acoustic(model, path: str | Path) -> Path:
    """Write the acoustic graph of ``model`` (an :class:`~multikd.models.AcousticModel`) to ``path``."""
    wrapper = AcousticForExport(model)
    n = 12  # any example length; every axis that depends on it is declared dynamic
    args = (torch.full((1, n), min(8, model.config.vocab_size - 1), dtype=torch.long), torch.zeros(1, dtype=torch.long),
            torch.zeros(1, dtype=torch.long), torch.ones(1))
    return _export(wrapper, args, Path(path), ACOUSTIC_INPUTS, ACOUSTIC_OUTPUTS,
                   {"phone_ids": {1: "phones"}, "mel": {1: "frames"}, "durations": {1: "phones"}})


def export_vocoder(generator, path: str | Path) -> Path:
    """Write the graph of a :class:`~multikd.vocoder.vocos.VocosGenerator` to ``path``."""
    generator = generator.eval()
    mel = torch.zeros(1, 20, generator.config.audio["n_mels"])
    return _export(generator, (mel,), Path(path), ["mel"], ["wav"],
                   {"mel": {0: "batch", 1: "frames"}, "wav": {0: "batch", 1: "samples"}})
