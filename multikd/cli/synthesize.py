"""`multikd synthesize`: text → wav with a trained model folder."""
from __future__ import annotations

COMMAND = "synthesize"
HELP = "speak text with a trained model (torch) or an exported voice (--onnx, onnxruntime only) into a wav"


def add_arguments(p):
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--model", help="exported model folder (RUN/model)")
    g.add_argument("--onnx", metavar="VOICE_DIR", help="voice folder from `multikd export` (onnxruntime, no torch)")
    p.add_argument("--lang", required=True, help="ISO 639-3 code or alias of a language the model speaks")
    p.add_argument("--speaker", help="speaker name (default: the first speaker of the language)")
    p.add_argument("--speed", type=float, default=1.0, help="speaking rate: 1.2 is 20 %% faster")
    p.add_argument("--vocoder", default="griffinlim",
                   help="registered vocoder name or a trained vocoder's folder (with --model)")
    p.add_argument("--unseen-phones", choices=("error", "features"), default="error",
                   help="a phone the model never saw: refuse (default) or embed it from its articulatory "
                        "features and nearest known phones (with --model)")
    p.add_argument("-o", "--out", required=True, help="output .wav")
    p.add_argument("texts", nargs="+", metavar="TEXT", help="text; several arguments are read one after another")


def run(args) -> int:
    import time
    from pathlib import Path

    import soundfile as sf

    t0 = time.perf_counter()
    if args.onnx:  # the deployment path: no torch is imported
        from multikd.export.runtime import OnnxVoice

        synth = OnnxVoice(args.onnx)
    else:
        from transformers.utils import logging as hf_logging

        from multikd.synthesis import Synthesizer

        hf_logging.disable_progress_bar()  # per-tensor loading bars; our own output says what happened
        synth = Synthesizer(args.model, vocoder=args.vocoder, unseen_phones=args.unseen_phones)
    t1 = time.perf_counter()
    wav, sr = synth.speak(" ".join(args.texts), args.lang, speaker=args.speaker, speed=args.speed)
    t2 = time.perf_counter()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(out, wav, sr, subtype="PCM_16")
    seconds = len(wav) / sr
    print(f"wrote {out}: {seconds:.2f} s at {sr} Hz (synthesis {t2 - t1:.2f} s, RTF {(t2 - t1) / max(seconds, 1e-9):.3f}; "
          f"loading {t1 - t0:.2f} s)")
    return 0
