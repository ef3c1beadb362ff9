"""CPU real-time factor of vocoders side by side: ``OMP_NUM_THREADS=1 python -m multikd.vocoder.bench``.

Random weights (speed does not depend on them) on a random 5 s ln-mel; median of ``repeats`` runs after a
warm-up, batch 1, one thread. Rows: Griffin-Lim (torch, 32 iterations), the Vocos-style vocoder at each
size in torch and in onnxruntime, and HiFi-GAN generators built from ``transformers``'
``FastSpeech2ConformerHifiGan`` (V1 = its default config; narrower ones by ``upsample_initial_channel``),
whose transposed convolutions upsample to the sample rate — the comparison that motivates the
frame-rate design (see :mod:`multikd.vocoder.vocos`).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from multikd.audio.config import AudioConfig


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: allocations, lazy initialisation, onnxruntime graph optimisation
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(seconds: float = 5.0, repeats: int = 3, hifigan_channels=(512, 128, 64)) -> list[dict]:
    """→ rows ``{"vocoder", "runtime", "params", "rtf"}``."""
    import onnxruntime as ort
    from transformers import FastSpeech2ConformerHifiGan, FastSpeech2ConformerHifiGanConfig

    from multikd.export.graphs import export_vocoder
    from multikd.vocoder import GriffinLim
    from multikd.vocoder.vocos import VocosConfig, VocosGenerator

    audio = AudioConfig()
    frames = round(seconds * audio.frames_per_second)
    mel = torch.randn(1, frames, audio.n_mels, generator=torch.Generator().manual_seed(0)) - 5.0
    audio_s = (frames - 1) * audio.hop_length / audio.sample_rate
    rows = []

    def add(name, runtime, params, fn):
        rows.append({"vocoder": name, "runtime": runtime, "params": params,
                     "rtf": _median_seconds(fn, repeats) / audio_s})

    gl = GriffinLim(audio)
    add("Griffin-Lim, 32 iterations", "torch", 0, lambda: gl.vocode(mel))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        for size in ("small", "large"):
            torch.manual_seed(0)
            gen = VocosGenerator(VocosConfig.preset(size, audio)).eval()
            n = sum(p.numel() for p in gen.parameters())
            add(f"Vocos-style {size}", "torch", n, lambda: gen(mel))
            sess = ort.InferenceSession(str(export_vocoder(gen, Path(tmp) / f"{size}.onnx")), opts,
                                        providers=["CPUExecutionProvider"])
            feed = {"mel": mel.numpy()}
            add(f"Vocos-style {size}", "onnxruntime", n, lambda: sess.run(None, feed))
        for ch in hifigan_channels:
            torch.manual_seed(0)
            hifi = FastSpeech2ConformerHifiGan(FastSpeech2ConformerHifiGanConfig(upsample_initial_channel=ch)).eval()
            name = "HiFi-GAN V1" if ch == 512 else f"HiFi-GAN {ch} channels"
            add(name, "torch", sum(p.numel() for p in hifi.parameters()), lambda: hifi(mel))
    return rows


def main(argv=None) -> None:
    from multikd.bench import table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = measure(args.seconds, args.repeats)
    print(table([[r["vocoder"], r["runtime"], f"{r['params'] / 1e6:.2f} M", f"{r['rtf']:.4f}"] for r in rows],
                ["vocoder", "runtime", "params", "RTF (1 thread)"]))


if __name__ == "__main__":
    main()
