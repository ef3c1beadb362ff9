"""`multikd bench cost`: parameters, size and one-thread CPU speed of voices side by side, and vs VITS.

For each model (``--model``, ``--vs``, or a random-weight ``--preset`` built on the fly) on the same
sentence, in one process, on one torch thread:

* acoustic model alone: phone ids → mel (``AcousticModel.inference``, sentence by sentence);
* end to end: text → wav with the vocoder (``Synthesizer.speak``: front end, model, Griffin-Lim today);
* the same sentence length through a VITS of the size MMS-TTS publishes
  (:mod:`multikd.bench.vits_reference`), token ids → wav.

RTF = median wall time / seconds of audio produced (:func:`multikd.evaluate.measure_rtf`); lower is faster.
Ratios are printed as "× faster/smaller"; the issue's goal is ≥ 10× faster than VITS end to end.
"""
from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

from multikd.bench import register_bench, table

GOAL_SPEEDUP = 10.0  # issue "cross-lingual evaluation": end to end at least 10x faster than VITS on a CPU
DEFAULT_MIN_CHARS = 80  # ~5 s of read speech: long enough that per-call overheads do not dominate


def _add(p):
    p.add_argument("--model", action="append", default=[], metavar="DIR", help="model folder (repeatable)")
    p.add_argument("--vs", metavar="DIR", help="a second model folder to compare against the first")
    p.add_argument("--preset", action="append", default=[], metavar="NAME",
                   help="also time a random-weight model of this preset (tiny, student, teacher, large)")
    p.add_argument("--lang", help="language (default: the first model's first language; presets: spa)")
    p.add_argument("--text", help="sentence to speak (default: the language's test sentences, ~80 characters)")
    p.add_argument("--runs", type=int, default=5, help="timed runs per measurement (median)")
    p.add_argument("--no-vits", action="store_true", help="skip the VITS comparison")
    p.add_argument("--json", help="also write the results here")


def default_text(lang: str, min_chars: int = DEFAULT_MIN_CHARS) -> str:
    """The language's test sentences (lexicons/<lang>/sentences.txt), joined until ``min_chars`` long."""
    from multikd.errors import ConfigError
    from multikd.text.languages import get_language

    sentences = get_language(lang).sentences()
    if not sentences:
        raise ConfigError(f"{lang} has no test sentences", where=str(get_language(lang).sentences_path),
                          fix="pass --text")
    out: list[str] = []
    for s in sentences:
        out.append(s)
        if len(" ".join(out)) >= min_chars:
            break
    return " ".join(out)


def _pin_durations(model, frames_per_phone: int) -> None:
    """Random weights predict arbitrary durations; a peaked duration head gives read-speech lengths instead."""
    import torch

    bins = model.variance.duration_bins
    with torch.no_grad():
        bias = -((bins.centres("cpu") - math.log1p(frames_per_phone)) / 0.05).square()
        model.variance.duration.net.head.weight.zero_()
        model.variance.duration.net.head.bias.copy_(bias)


def preset_model(preset: str, lang: str, text: str, folder: Path, frames_per_phone: int = 7) -> Path:
    """A random-weight model folder of ``preset`` that can speak ``text`` in ``lang`` (for sizing and speed).

    7 frames per phone ≈ 12 phones per second at 22.05 kHz / hop 256, the pace of read speech.
    """
    from multikd.audio.config import AudioConfig
    from multikd.recipe import ModelSection
    from multikd.text import get_frontend
    from multikd.text.symbols import SPECIALS, SymbolTable
    from multikd.train.data import NormStats
    from multikd.train.loop import build_model, export_model

    symbols = SymbolTable(p for p in get_frontend(lang).phonemize(text).phones if p not in SPECIALS)
    norm = NormStats(languages=[lang], speakers=["random"], pitch={"random": None}, energy_log_mean=0.0,
                     energy_log_std=1.0, speaker_languages={"random": [lang]})
    audio = AudioConfig()
    model = build_model(ModelSection(preset=preset), symbols, norm, audio.n_mels).eval()
    _pin_durations(model, frames_per_phone)
    return export_model(model, folder, symbols, norm, audio)


def measure_model(model_dir: Path, lang: str | None, text: str | None, runs: int) -> dict:
    """Size and one-thread RTF of a model folder: acoustic model alone, vocoder alone, end to end."""
    import torch

    from multikd.evaluate import measure_rtf, model_cost
    from multikd.synthesis import Synthesizer

    synth = Synthesizer(model_dir)
    iso = synth.language(lang or synth.languages[0])
    text = text or default_text(iso)
    spk = synth.speaker(None, iso)
    lang_id = torch.tensor([synth.norm.languages.index(iso)])
    spk_id = torch.tensor([synth.norm.speakers.index(spk)])
    ids = [torch.tensor([synth.encode(s, where=f"{model_dir} sentence {k}")])
           for k, s in enumerate(synth.phonemes(text, iso))]
    fps = synth.audio.frames_per_second

    def acoustic():
        return sum(int(synth.model.inference(x, torch.tensor([x.shape[1]]), lang_id, spk_id)["mel_lengths"][0])
                   for x in ids)

    mel = synth.mel(text, iso, spk)
    cost = model_cost(model_dir)
    am = measure_rtf(acoustic, lambda frames: frames / fps, n=runs, threads=1)
    with torch.no_grad():
        voc = measure_rtf(lambda: synth.vocoder.vocode(mel[None])[0], lambda w: w.shape[-1] / synth.sample_rate,
                          n=runs, threads=1)
    e2e = measure_rtf(lambda: synth.speak(text, iso, spk)[0], lambda w: len(w) / synth.sample_rate, n=runs, threads=1)
    return {"model": str(model_dir), "language": iso, "text": text, "parameters": cost["parameters"],
            "size_mb": cost["folder_mb"], "rtf_acoustic": am["rtf"], "rtf_vocoder": voc["rtf"], "rtf_end_to_end": e2e["rtf"],
            "audio_seconds": e2e["audio_seconds"], "vocoder": type(synth.vocoder).__name__}


def _x(a: float, b: float) -> str:
    """How many times ``a`` exceeds ``b`` (b faster/smaller when > 1)."""
    return f"{a / b:.1f}x" if b > 0 else "-"


@register_bench("cost", "parameters, size and 1-thread CPU RTF of voices side by side and against a VITS (MMS-TTS size)",
                add_arguments=_add)
def run(args) -> int:
    from transformers.utils import logging as hf_logging

    from multikd.errors import ConfigError

    hf_logging.disable_progress_bar()  # per-tensor save/load bars would bury the table
    models = [Path(m) for m in args.model] + ([Path(args.vs)] if args.vs else [])
    if not models and not args.preset:
        raise ConfigError("nothing to measure", where="bench cost",
                          fix="give --model DIR (and --vs DIR), or --preset student")
    subjects: list[tuple[str, Path]] = [(m.parent.name + "/" + m.name if m.name == "model" else m.name, m) for m in models]
    work = Path(tempfile.mkdtemp(prefix="multikd-bench-cost-"))
    results = []
    lang, text = args.lang, args.text
    for label, folder in subjects:
        results.append({"label": label, **measure_model(folder, lang, text, args.runs)})
        lang, text = results[0]["language"], results[0]["text"]  # every model speaks the same sentence
    for preset in args.preset:
        p_lang = lang or "spa"
        p_text = text or default_text(p_lang)
        folder = preset_model(preset, p_lang, p_text, work / preset)
        results.append({"label": f"{preset} preset (random)", **measure_model(folder, p_lang, p_text, args.runs)})
        lang, text = results[0]["language"], results[0]["text"]

    rows = [[r["label"], f"{r['parameters'] / 1e6:.2f} M", f"{r['size_mb']:.1f}", f"{r['rtf_acoustic']:.4f}",
             f"{r['rtf_vocoder']:.4f}", f"{r['rtf_end_to_end']:.4f}"] for r in results]
    vits = None
    if not args.no_vits:
        from multikd.bench.vits_reference import measure_vits

        vits = measure_vits(text, results[0]["audio_seconds"], runs=args.runs)
        rows.append(["VITS (MMS-TTS size, random)", f"{vits['parameters'] / 1e6:.2f} M", f"{vits['weights_mb']:.1f}",
                     "-", "-", f"{vits['rtf']:.4f}"])
    print(f"\n{text!r} ({lang}), {results[0]['audio_seconds']:.2f} s of speech; one torch thread; "
          f"median of {args.runs} runs; RTF = seconds per second of audio (lower is faster)\n")
    print(table(rows, ["system", "parameters", "size MB", "RTF acoustic model", f"RTF vocoder ({results[0]['vocoder']})",
                       "RTF end to end"]))
    ratios = []
    base = results[0]
    for r in results[1:]:
        ratios.append([f"{base['label']} vs {r['label']}", _x(r["parameters"], base["parameters"]),
                       _x(r["rtf_acoustic"], base["rtf_acoustic"]), _x(r["rtf_end_to_end"], base["rtf_end_to_end"])])
    if vits:
        for r in results:
            ratios.append([f"ours ({r['label']}) vs VITS", _x(vits["parameters"], r["parameters"]),
                           _x(vits["rtf"], r["rtf_acoustic"]), _x(vits["rtf"], r["rtf_end_to_end"])])
    if ratios:
        print("\nratios (> 1x: the first is smaller / faster; acoustic column vs VITS compares our acoustic model "
              "alone with the whole VITS)\n")
        print(table(ratios, ["comparison", "fewer parameters", "faster acoustic", "faster end to end"]))
    if vits:
        for r in results:
            speedup = vits["rtf"] / r["rtf_end_to_end"]
            print(f"goal (>= {GOAL_SPEEDUP:.0f}x faster than VITS end to end), {r['label']}: "
                  f"{'met' if speedup >= GOAL_SPEEDUP else 'NOT met'} ({speedup:.1f}x)")
        print(f"VITS: {vits['config']}; {vits['tokens']} tokens (2 per character + 1, as MMS-TTS's tokenizer); "
              f"durations pinned to our model's speech length; {vits['parameters_inference'] / 1e6:.1f} M "
              "parameters used at inference")
    if args.json:
        Path(args.json).write_text(json.dumps({"models": results, "vits": vits}, indent=1))
    return 0
