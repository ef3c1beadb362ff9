"""Parameter counts and CPU real-time factor of each preset's ``inference``: ``python -m multikd.models.bench``.

Random weights (speed does not depend on them), except that the duration head is biased to 7 frames per
phone (≈ 12 phones/s, read speech), so output lengths — and the decoder's cost — are realistic. RTF =
wall time of ``inference`` ÷ duration of the mel it produced, acoustic model only (no vocoder).
"""
from __future__ import annotations

import argparse
import logging
import math
import statistics
import time

import torch

from multikd.audio.config import AudioConfig
from multikd.models.acoustic import AcousticModel
from multikd.models.config import AcousticConfig
from multikd.text.features import N_FEATURES

log = logging.getLogger(__name__)


def build(preset: str, vocab_size: int = 80, n_languages: int = 4, n_speakers: int = 8) -> AcousticModel:
    """A preset model with a random ±1 feature table of the real feature width."""
    g = torch.Generator().manual_seed(0)
    feats = (torch.randint(-1, 2, (vocab_size, N_FEATURES), generator=g)).float().tolist()
    torch.manual_seed(0)
    return AcousticModel(AcousticConfig.preset(preset, vocab_size=vocab_size, phone_features=feats,
                                               n_languages=n_languages, n_speakers=n_speakers)).eval()


def measure(preset: str, n_phones: int = 60, frames_per_phone: int = 7, repeats: int = 5) -> dict:
    """→ ``{"preset", "params", "seconds", "audio_seconds", "rtf"}`` (median of ``repeats`` runs)."""
    model = build(preset)
    bins = model.variance.duration_bins
    with torch.no_grad():  # a peaked duration distribution centred on log(1 + frames_per_phone)
        bias = -((bins.centres("cpu") - math.log1p(frames_per_phone)) / 0.05).square()
        model.variance.duration.net.head.weight.zero_()
        model.variance.duration.net.head.bias.copy_(bias)
    ids = torch.randint(8, 80, (1, n_phones), generator=torch.Generator().manual_seed(1))
    args = (ids, torch.tensor([n_phones]), torch.tensor([0]), torch.tensor([0]))
    model.inference(*args)  # warm-up
    times, frames = [], 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        frames = int(model.inference(*args)["mel_lengths"][0])
        times.append(time.perf_counter() - t0)
    audio = AudioConfig()
    audio_s = frames / audio.frames_per_second
    sec = statistics.median(times)
    return {"preset": preset, "params": sum(p.numel() for p in model.parameters()), "seconds": sec,
            "audio_seconds": audio_s, "rtf": sec / audio_s}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="*", default=["tiny", "student", "teacher", "large"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for preset in args.presets:
        r = measure(preset)
        log.info("%-8s %8.2f M params  %.3f s for %.2f s of speech  RTF %.4f (%d thread(s))", preset,
                 r["params"] / 1e6, r["seconds"], r["audio_seconds"], r["rtf"], args.threads)


if __name__ == "__main__":
    main()
