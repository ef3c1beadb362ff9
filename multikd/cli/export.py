"""`multikd export`: a trained model (+ vocoder) → ONNX graphs and voice.json, runnable with onnxruntime alone."""
from __future__ import annotations

COMMAND = "export"
HELP = "export a model folder and a vocoder as an ONNX voice folder (voice.json + acoustic.onnx + vocoder)"


def add_arguments(p):
    p.add_argument("--model", required=True, help="exported model folder (RUN/model)")
    p.add_argument("--vocoder", default="griffinlim",
                   help="a trained vocoder folder (train-vocoder's RUN/model) or griffinlim (numpy fallback)")
    p.add_argument("-o", "--out", required=True, help="voice folder to write (replaced if it exists)")


def run(args) -> int:
    from transformers.utils import logging as hf_logging

    from multikd.export.voice import export_voice

    hf_logging.disable_progress_bar()
    out = export_voice(args.model, args.out, args.vocoder)
    sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in sorted(out.iterdir()))
    print(f"wrote {out}: {sizes}")
    return 0
