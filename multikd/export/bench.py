"""`multikd bench export`: end-to-end text → wav real-time factor, torch vs ONNX, on one CPU thread.

The same text (four Spanish sentences; ≈ 17 s of speech from the random model) through four paths, each timed after one
warm-up (the front end's per-word cache is warm for all of them, as in a running voice):

- torch: :class:`multikd.synthesis.Synthesizer` (``AcousticModel.inference`` + vocoder in torch);
- onnx: :class:`multikd.export.runtime.OnnxVoice` (onnxruntime, no torch), from ``multikd export``;

each with the small Vocos-style vocoder and with Griffin-Lim for reference. Without ``--model`` the
acoustic model is a random ``student`` preset whose duration head is pinned to 7 frames per phone (read
speech, as in ``python -m multikd.models.bench``) and the vocoder a random ``small`` one: speed does not
depend on weights. The goal for student + small vocoder is RTF ≤ 0.02.
"""
from __future__ import annotations

import json
import math
import statistics
import tempfile
import time
from pathlib import Path

from multikd.bench import register_bench, table

TEXT = ("El perro corre por el parque todas las mañanas. La casa de mi abuela es muy grande y tiene un jardín. "
        "¿Dónde está la estación de tren? Hoy hace buen tiempo para pasear.")
LANGUAGE = "spa"


def random_model_dir(out: Path, preset: str = "student", languages=("spa", "cat"), n_speakers: int = 3,
                     frames_per_phone: int = 7, texts: dict[str, str] | None = None, seed: int = 0) -> Path:
    """Write an exported-model folder (as training does) with random weights, for benchmarks and tests.

    The symbol table holds the phones of ``texts`` (language → text; defaults to each language's test
    sentences); the duration head is pinned to ``frames_per_phone`` so output lengths are realistic.
    """
    import torch

    from multikd.audio.config import AudioConfig
    from multikd.models import AcousticConfig, AcousticModel
    from multikd.text import get_language, phonemize
    from multikd.text.symbols import SymbolTable
    from multikd.train.data import NormStats

    phones = []
    for lang in languages:
        text = (texts or {}).get(lang) or " ".join(get_language(lang).sentences())
        phones += phonemize(text, lang).phones
    symbols = SymbolTable(phones)
    speakers = [f"speaker{i}" for i in range(n_speakers)]
    norm = NormStats(languages=sorted(languages), speakers=speakers, pitch={s: None for s in speakers},
                     energy_log_mean=0.0, energy_log_std=1.0,
                     speaker_languages={s: [sorted(languages)[i % len(languages)]] for i, s in enumerate(speakers)})
    torch.manual_seed(seed)
    model = AcousticModel(AcousticConfig.preset(preset, vocab_size=len(symbols),
                                                phone_features=symbols.feature_matrix().tolist(),
                                                n_languages=len(languages), n_speakers=n_speakers,
                                                language_names=norm.languages, speaker_names=speakers))
    with torch.no_grad():  # a peaked duration distribution centred on log(1 + frames_per_phone)
        bins = model.variance.duration_bins
        model.variance.duration.net.head.weight.mul_(0.01)
        model.variance.duration.net.head.bias.copy_(-((bins.centres("cpu") - math.log1p(frames_per_phone)) / 0.05).square())
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    symbols.save(out / "symbols.json")
    norm.save(out / "norm.json")
    (out / "audio.json").write_text(json.dumps(AudioConfig().to_dict(), indent=1) + "\n", encoding="utf-8")
    return out


def random_vocoder_dir(out: Path, size: str = "small", seed: int = 0) -> Path:
    """A Vocos-style vocoder folder with random weights (as ``train-vocoder`` writes ``RUN/model``)."""
    import torch

    from multikd.audio.config import AudioConfig
    from multikd.vocoder.vocos import VocosConfig, VocosGenerator

    torch.manual_seed(seed)
    VocosGenerator(VocosConfig.preset(size, AudioConfig())).save_pretrained(str(out))
    return out


def _add(p):
    p.add_argument("--model", help="a trained model folder (default: a random student preset)")
    p.add_argument("--vocoder", help="a trained vocoder folder (default: a random small Vocos-style vocoder)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per path (median)")


def _time(fn, repeats: int) -> tuple[float, float]:
    """(median seconds, seconds of audio) of ``fn() -> (wav, sr)`` after one warm-up."""
    wav, sr = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), len(wav) / sr


@register_bench("export", "end-to-end text→wav RTF on one thread: torch vs ONNX, small vocoder vs Griffin-Lim",
                add_arguments=_add)
def run(args) -> int:
    import logging

    from transformers.utils import logging as hf_logging

    from multikd.export.runtime import OnnxVoice
    from multikd.export.voice import export_voice
    from multikd.synthesis import Synthesizer

    hf_logging.disable_progress_bar()
    logging.getLogger("multikd.export").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="multikd-bench-export-") as tmp:
        tmp = Path(tmp)
        model = Path(args.model) if args.model else random_model_dir(tmp / "model", texts={"spa": TEXT, "cat": "Bon dia."})
        vocoder = Path(args.vocoder) if args.vocoder else random_vocoder_dir(tmp / "vocoder")
        rows = []
        for voc_name, voc in (("small Vocos-style", str(vocoder)), ("Griffin-Lim", "griffinlim")):
            synth = Synthesizer(model, vocoder=voc)
            sec, audio_s = _time(lambda: synth.speak(TEXT, LANGUAGE), args.repeats)
            rows.append(["torch", voc_name, f"{audio_s:.2f}", f"{sec:.3f}", f"{sec / audio_s:.4f}"])
            voice = OnnxVoice(export_voice(model, tmp / f"voice-{voc_name[0]}", voc), threads=1)
            sec, audio_s = _time(lambda: voice.speak(TEXT, LANGUAGE), args.repeats)
            rows.append(["onnxruntime", voc_name, f"{audio_s:.2f}", f"{sec:.3f}", f"{sec / audio_s:.4f}"])
        n = sum(p.numel() for name, p in synth.model.named_parameters() if not name.startswith("aligner."))
    print(f"acoustic model: {model if args.model else 'random student preset'} ({n / 1e6:.2f} M parameters "
          f"at inference); text → wav including the front end; one thread; median of {args.repeats}")
    print(table(rows, ["runtime", "vocoder", "audio s", "seconds", "RTF"]))
    return 0
