"""The comparison point of `multikd bench cost`: a VITS of the size Meta's MMS-TTS voices publish.

``transformers.VitsConfig()`` defaults are the ``facebook/mms-tts-eng`` architecture (192-wide text
encoder of 6 layers, stochastic duration predictor, 4 coupling flows, HiFi-GAN V1-sized decoder
512 channels, 16 kHz). It is built with random weights — speed does not depend on the weights, and nothing
is downloaded — and timed from token ids to waveform on one thread.

Two things would make a random-weight VITS time the wrong amount of work, and both are fixed here:

* Input length: MMS-TTS tokenises characters and intersperses a blank between them (``add_blank``), so a
  text of C characters is ``2·C + 1`` tokens; the same is fed here.
* Output length: random duration weights give arbitrary lengths, and the decoder's cost grows with the
  number of frames. The duration predictor still runs (its cost is counted) but its output is replaced
  by a constant, so VITS speaks as many seconds as our model did for the same sentence.
"""
from __future__ import annotations

import logging
import math

import torch
from torch import nn

log = logging.getLogger(__name__)

__all__ = ["mms_token_count", "build_vits", "measure_vits"]

VITS_SAMPLE_RATE = 16000  # VitsConfig default and every MMS-TTS voice


def mms_token_count(text: str) -> int:
    """Tokens MMS-TTS's tokenizer gives a text: lower-cased characters, each followed by a blank, plus one."""
    return 2 * len(text.strip().lower()) + 1


class _PinnedDuration(nn.Module):
    """Runs the real duration predictor (so its time counts), then returns a fixed log-duration per token."""

    def __init__(self, inner: nn.Module, log_frames: float):
        super().__init__()
        self.inner = inner
        self.log_frames = log_frames

    def forward(self, inputs, padding_mask, global_conditioning=None, **kwargs):
        out = self.inner(inputs, padding_mask, global_conditioning, **kwargs)  # [B, 1, N]
        return torch.full_like(out, self.log_frames)


def build_vits(frames_per_token: float | None = None, seed: int = 0):
    """``VitsModel(VitsConfig())`` with random weights, in eval mode; optionally a pinned duration.

    Args:
        frames_per_token: spectrogram frames (hop 256 at 16 kHz) per input token; None keeps the random
            duration predictor's own output.
    Returns:
        ``(model, parameter counts {"total", "inference"})``. "inference" leaves out the posterior encoder,
        which only training uses.
    """
    from transformers import VitsConfig, VitsModel

    torch.manual_seed(seed)
    model = VitsModel(VitsConfig()).eval()
    total = sum(p.numel() for p in model.parameters())
    posterior = sum(p.numel() for p in model.posterior_encoder.parameters()) if hasattr(model, "posterior_encoder") else 0
    if frames_per_token is not None:
        # exp(log) is ceil()ed by VITS: subtract a hair so an integer frame count is not rounded up by one.
        model.duration_predictor = _PinnedDuration(model.duration_predictor, math.log(max(frames_per_token, 1.0) - 1e-4))
    return model, {"total": total, "inference": total - posterior}


def measure_vits(text: str, audio_seconds: float, runs: int = 5, seed: int = 0) -> dict:
    """One-thread RTF of VITS (default config) from token ids to waveform, for ``text`` spoken in ``audio_seconds``.

    Args:
        text: the sentence our model spoke (only its length matters).
        audio_seconds: how long our model's speech for it was; VITS is made to speak as long.
    Returns:
        ``{"rtf", "seconds_median", "audio_seconds", "tokens", "parameters", "parameters_inference",
        "weights_mb", "sample_rate", "config"}``.
    """
    from transformers import VitsConfig

    from multikd.evaluate import measure_rtf

    cfg = VitsConfig()
    hop = math.prod(cfg.upsample_rates)  # samples per spectrogram frame (256)
    tokens = mms_token_count(text)
    frames = max(audio_seconds * cfg.sampling_rate / hop, 1.0)
    per_token = max(round(frames / tokens), 1)
    log.info("VITS: %d tokens, %d frames per token (our model spoke %.2f s)", tokens, per_token, audio_seconds)
    model, params = build_vits(frames_per_token=per_token, seed=seed)
    ids = torch.randint(1, cfg.vocab_size, (1, tokens), generator=torch.Generator().manual_seed(seed))
    mask = torch.ones_like(ids)

    @torch.no_grad()
    def synth():
        return model(input_ids=ids, attention_mask=mask).waveform[0]

    rtf = measure_rtf(synth, lambda wav: wav.shape[-1] / cfg.sampling_rate, n=runs, warmup=1, threads=1)
    return {"rtf": rtf["rtf"], "seconds_median": rtf["seconds_median"], "audio_seconds": rtf["audio_seconds"],
            "tokens": tokens, "parameters": params["total"], "parameters_inference": params["inference"],
            "weights_mb": params["total"] * 4 / 2**20, "sample_rate": cfg.sampling_rate,
            "config": "transformers VitsConfig() defaults (the facebook/mms-tts-eng architecture), random weights"}
