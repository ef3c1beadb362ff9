"""`multikd bench prepare`: corpus preparation throughput as a multiple of real time, stage by stage.

Goal (issue: corpora): G2P + features ≥ 100× real time on the 2-core development machine. Stages are
timed on the same utterances in one process with one torch thread: G2P (backends warm, word cache
empty), audio loading + checks + trimming + loudness, features (log-mel, F0, energy), and the whole
`prepare` command (cold: includes backend start-up and writing; then a re-run that reuses every shard).
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from multikd.bench import register_bench, table


def _add(p):
    p.add_argument("--corpus", help="a raw corpus folder with README.md card (default: render a small demo corpus)")
    p.add_argument("--voices", default="espeak-es,espeak-de,festival-ona,festival-nsk-hin,flite-slt,espeak-sw",
                   help="voices for the rendered corpus")
    p.add_argument("--minutes-per-voice", type=float, default=1.0)
    p.add_argument("--json", help="also write the results here")


@register_bench("prepare", "corpus preparation speed (G2P, audio checks, features, end to end) × real time",
                add_arguments=_add)
def run(args) -> int:
    from multikd.audio.config import AudioConfig
    from multikd.audio.features import extract_features
    from multikd.audio.io import load_audio
    from multikd.audio.quality import AudioRejected, preprocess
    from multikd.data.cards import load_card
    from multikd.data.prepare import prepare
    from multikd.data.sources import load_source
    from multikd.errors import MultikdError
    from multikd.recipe import DataSelection
    from multikd.text.backends import get_backend
    from multikd.text.frontend import Frontend

    work = Path(tempfile.mkdtemp(prefix="multikd-bench-"))
    corpus = Path(args.corpus) if args.corpus else work / "corpus"
    if not args.corpus:
        from multikd.data.demo.render import build_demo_corpus

        print(f"rendering a demo corpus ({args.voices}) into {corpus} (not timed)")
        build_demo_corpus(corpus, voice_ids=args.voices.split(","), minutes_per_voice=args.minutes_per_voice,
                          progress=False)
    card = load_card(corpus / "README.md")
    ds = load_source(card)
    cfg = AudioConfig()
    rows = list(ds)
    by_lang: dict[str, list[str]] = {}
    for r in rows:
        by_lang.setdefault(r["language"], []).append(r["text"])

    t = time.perf_counter()
    fes = {lang: Frontend(lang) for lang in by_lang}
    for lang, texts in by_lang.items():  # start-up: load every backend of the chain (epitran ~3-5 s each)
        for name in fes[lang].lang.g2p_order:
            get_backend(name, fes[lang].lang).transcribe(["a"])
    startup = time.perf_counter() - t
    for fe in fes.values():
        fe._cache.clear()  # measure transcription, not the cache
    t = time.perf_counter()
    for lang, texts in by_lang.items():
        fes[lang].phonemize_batch(texts, errors="collect")
    g2p_s = time.perf_counter() - t

    t = time.perf_counter()
    clean, seconds, audio_rejected = [], 0.0, 0
    for r in rows:
        try:
            wav = load_audio(r["audio"], cfg.sample_rate, where=r["id"])
            seconds += len(wav) / cfg.sample_rate
            clean.append(preprocess(wav, cfg.sample_rate, cfg, where=r["id"])[0])
        except (AudioRejected, MultikdError):
            audio_rejected += 1  # timed like the others up to the rejection; counted in the summary
    audio_s = time.perf_counter() - t
    t = time.perf_counter()
    for wav in clean:
        extract_features(wav, cfg)
    feat_s = time.perf_counter() - t

    t = time.perf_counter()
    res = prepare(corpus / "README.md", work / "prepared", DataSelection(card=""), cfg, progress=False)
    full_cold = time.perf_counter() - t
    t = time.perf_counter()
    prepare(corpus / "README.md", work / "prepared", DataSelection(card=""), cfg, progress=False)
    full_warm = time.perf_counter() - t

    x = lambda s: f"{seconds / s:.0f}x" if s > 0 else "-"  # noqa: E731
    results = [
        ["G2P (backends warm, no word cache)", f"{g2p_s:.2f}", x(g2p_s)],
        ["audio load + resample + checks + trim + loudness", f"{audio_s:.2f}", x(audio_s)],
        ["features: log-mel + F0 (dio) + energy", f"{feat_s:.2f}", x(feat_s)],
        ["G2P + features (the goal: >= 100x)", f"{g2p_s + feat_s:.2f}", x(g2p_s + feat_s)],
        ["G2P + audio + features", f"{g2p_s + audio_s + feat_s:.2f}", x(g2p_s + audio_s + feat_s)],
        ["`prepare` end to end, cold (start-up, writing)", f"{full_cold:.2f}", x(full_cold)],
        ["`prepare` re-run (all shards reused)", f"{full_warm:.2f}", x(full_warm)],
        ["G2P backend start-up (once per process)", f"{startup:.2f}", ""],
    ]
    print(f"\n{len(rows)} utterances, {seconds / 60:.1f} min of audio, {len(by_lang)} languages; "
          f"one process, torch threads = 1; kept {res.kept}, rejected {sum(res.rejected.values())} "
          f"({audio_rejected} by the audio checks of the timed stage)\n")
    print(table(results, ["stage", "seconds", "x real time"]))
    goal = seconds / (g2p_s + feat_s) >= 100
    print(f"\ngoal G2P + features >= 100x real time: {'met' if goal else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"utterances": len(rows), "audio_seconds": seconds,
                                               "stages": {r[0]: float(r[1]) for r in results}}, indent=1))
    return 0

