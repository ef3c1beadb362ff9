"""Render the offline demo corpus: voices.toml × sentence lists → an AudioFolder-style raw corpus.

Layout written under ``out``::

    audio/<lang>/<speaker>/<utt_id>.wav   engine's native sample rate, 16-bit
    alignments/<utt_id>.json              the engine's own phone timings (reference only)
    metadata.jsonl                        one line per rendered utterance, appended as it is made
    README.md                             data card (regenerated from metadata.jsonl every run)
    render_report.json                    this run: counts, failures with reasons, minutes, wall time

Re-running with the same arguments renders nothing new: an utterance whose metadata line and wav
exist is skipped, so an interrupted run resumes. Failures are never written to metadata.jsonl; they
are counted in the report and retried by the next run.
"""
from __future__ import annotations

import json
import logging
import math
import random
import time
import tomllib
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from multikd.data.demo.engines import ENGINES, RenderFailure, RenderRequest, RenderResult, Voice, check_rendered
from multikd.data.demo.engines.base import count_letters
from multikd.data.demo.texts import TEST_EVERY, Sentence, load_sentences
from multikd.errors import CorpusError

log = logging.getLogger(__name__)

VOICES_FILE = Path(__file__).parent / "voices.toml"
# Planning estimate of speaking rate (letters per second of audio) when voices.toml gives none;
# measured on this corpus' voices at 11-16. Only decides how many sentences to queue.
DEFAULT_LETTERS_PER_S = 13.0
_VOICE_KEYS = {"engine", "voice", "speaker", "language", "role", "default", "notes"}


def load_voices(path: Path = VOICES_FILE) -> dict[str, Voice]:
    """voices.toml → {voice id: Voice}; keys other than the common ones become engine options."""
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise CorpusError(f"cannot read voices table: {e}", where=str(path)) from e
    voices = {}
    for vid, row in table.items():
        missing = {"engine", "voice", "language", "role"} - row.keys()
        if missing:
            raise CorpusError(f"voice {vid!r} lacks {sorted(missing)}", where=str(path))
        opts = {k: v for k, v in row.items() if k not in _VOICE_KEYS}
        opts["default"] = bool(row.get("default", True))
        voices[vid] = Voice(speaker=row.get("speaker", vid), engine=row["engine"], voice=row["voice"],
                            language=row["language"], role=row["role"], options=opts, notes=row.get("notes", ""))
    return voices


def select_voices(voices: dict[str, Voice], languages: list[str] | None, voice_ids: list[str] | None) -> dict[str, Voice]:
    """Voices named by --voices (all must exist), else the default ones; then filtered by --languages."""
    if voice_ids:
        unknown = [v for v in voice_ids if v not in voices]
        if unknown:
            raise CorpusError(f"unknown voice id(s) {unknown}", fix=f"known: {', '.join(voices)} "
                              "(see `multikd corpus list-voices`)")
        chosen = {v: voices[v] for v in voice_ids}
    else:
        chosen = {k: v for k, v in voices.items() if v.options.get("default", True)}
    if languages:
        chosen = {k: v for k, v in chosen.items() if v.language in languages}
        if not chosen:
            raise CorpusError(f"no voice reads {languages}",
                              fix=f"languages with voices: {sorted({v.language for v in voices.values()})}")
    return chosen


@dataclass
class PlannedUtt:
    utt_id: str
    sentence: Sentence
    voice_id: str
    voice: Voice


def plan_voice(voice_id: str, voice: Voice, sentences: list[Sentence], minutes: float,
               max_utterances: int | None, seed: int) -> tuple[list[PlannedUtt], float]:
    """Sentences this voice reads: a seeded shuffle of the language's train sentences until the
    estimated audio reaches ``minutes``, plus ~1 test sentence per 9 train sentences.

    Returns:
        (planned utterances, estimated train minutes available in the whole text for this voice).
    """
    rng = random.Random(f"{seed}:{voice_id}")
    train = [s for s in sentences if s.split == "train"]
    test = [s for s in sentences if s.split == "test"]
    rng.shuffle(train)
    rng.shuffle(test)
    rate = float(voice.options.get("letters_per_s", DEFAULT_LETTERS_PER_S))
    est = [count_letters(s.text) / rate for s in train]
    n_train, total = 0, 0.0
    while n_train < len(train) and total < minutes * 60:
        total += est[n_train]
        n_train += 1
    n_test = min(len(test), math.ceil(n_train / (TEST_EVERY - 1)))
    if max_utterances is not None:
        n_test = min(n_test, max_utterances // TEST_EVERY or min(1, max_utterances - 1))
        n_train = min(n_train, max_utterances - n_test)
    chosen = train[:n_train] + test[:n_test]
    utts = [PlannedUtt(f"{voice.language}-{voice_id}-{s.key}", s, voice_id, voice) for s in chosen]
    return utts, sum(est) / 60


@dataclass
class RenderReport:
    out: str
    wall_s: float = 0.0
    rendered: int = 0
    skipped_existing: int = 0
    failed: int = 0
    minutes_rendered_now: float = 0.0
    minutes_in_corpus: float = 0.0
    per_voice: dict = field(default_factory=dict)
    per_language: dict = field(default_factory=dict)
    text_limited: dict = field(default_factory=dict)  # voice id → minutes of text there is
    failures: list = field(default_factory=list)  # {id, voice, language, reason}


def _read_metadata(path: Path) -> dict[str, dict]:
    rows = {}
    if path.exists():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:  # a line cut by an interrupted run: re-render it
                    log.warning("%s:%d unreadable (%s); that utterance will be rendered again", path, n, e)
                    continue
                rows[row["id"]] = row
    return rows


def build_demo_corpus(out: Path, *, languages: list[str] | None = None, voice_ids: list[str] | None = None,
                      minutes_per_voice: float = 3.0, max_utterances: int | None = None, seed: int = 0,
                      voices_file: Path = VOICES_FILE, progress: bool = True) -> RenderReport:
    """Render (or complete) the demo corpus in ``out``; see the module docstring for the layout.

    Args:
        minutes_per_voice: target minutes of *train* audio per voice (estimated when planning).
        max_utterances: cap per voice (train + test), for quick runs and tests.
    """
    t0 = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    voices = select_voices(load_voices(voices_file), languages, voice_ids)
    report = RenderReport(out=str(out))
    meta_path = out / "metadata.jsonl"
    done = {k: r for k, r in _read_metadata(meta_path).items() if (out / r["file_name"]).exists()}

    plan: list[PlannedUtt] = []
    texts: dict[str, list[Sentence]] = {}
    for vid, voice in voices.items():
        if voice.language not in texts:
            texts[voice.language] = load_sentences(voice.language)
        utts, text_minutes = plan_voice(vid, voice, texts[voice.language], minutes_per_voice, max_utterances, seed)
        if text_minutes < minutes_per_voice:
            report.text_limited[vid] = round(text_minutes, 1)
            log.warning("%s: the %s text gives only ~%.1f min of audio (asked %.1f)", vid, voice.language,
                        text_minutes, minutes_per_voice)
        plan.extend(utts)

    todo = [u for u in plan if u.utt_id not in done]
    report.skipped_existing = len(plan) - len(todo)
    counts: dict[str, Counter] = defaultdict(Counter)
    for u in plan:
        counts[u.voice_id]["planned"] += 1
        counts[u.voice_id]["skipped_existing"] += u.utt_id in done

    by_voice: dict[str, list[PlannedUtt]] = defaultdict(list)
    for u in todo:
        by_voice[u.voice_id].append(u)
    bar = tqdm(total=len(todo), unit="utt", desc="render", disable=not progress, dynamic_ncols=True)
    with meta_path.open("a", encoding="utf-8") as meta:
        for vid, utts in by_voice.items():
            bar.set_postfix_str(vid)
            for u, res in _render_voice(vid, utts, out):
                if isinstance(res, RenderFailure):
                    counts[vid]["failed"] += 1
                    report.failures.append({"id": u.utt_id, "voice": vid, "language": u.voice.language,
                                            "reason": res.reason})
                    log.debug("failed %s: %s", u.utt_id, res.reason)
                else:
                    row = _write_utterance(u, res, out)
                    meta.write(json.dumps(row, ensure_ascii=False) + "\n")
                    meta.flush()  # each line is durable on its own: an interrupted run resumes here
                    done[u.utt_id] = row
                    counts[vid]["rendered"] += 1
                    report.minutes_rendered_now += res.duration / 60
                bar.update(1)
    bar.close()

    _summarise(report, counts, voices, done)
    report.wall_s = round(time.monotonic() - t0, 1)
    from multikd.data.demo.card import write_card  # local: card imports render's helpers

    write_card(out, list(done.values()), load_voices(voices_file))
    (out / "render_report.json").write_text(json.dumps(asdict(report), indent=1, ensure_ascii=False) + "\n",
                                            encoding="utf-8")
    return report


def _render_voice(vid: str, utts: list[PlannedUtt], out: Path):
    """Yield (planned utterance, result or failure) for one voice; every planned one is answered."""
    voice = utts[0].voice
    engine_cls = ENGINES.get(voice.engine)
    why = (f"no synthesizer named {voice.engine!r} (known: {sorted(ENGINES)})" if engine_cls is None
           else engine_cls.available())
    if why:
        for u in utts:
            yield u, RenderFailure(u.utt_id, why)
        return
    engine = engine_cls()
    reqs = {u.utt_id: u for u in utts}
    requests = [RenderRequest(u.utt_id, u.sentence.text, voice,
                              out / "audio" / voice.language / voice.speaker / f"{u.utt_id}.wav") for u in utts]
    answered = set()
    for res in engine.render_many(requests):
        u = reqs[res.utt_id]
        answered.add(res.utt_id)
        if isinstance(res, RenderResult):
            bad = check_rendered(RenderRequest(u.utt_id, u.sentence.text, voice, res.wav_path), res)
            if bad:
                res.wav_path.unlink(missing_ok=True)  # a rejected wav must not look rendered on resume
                res = bad
        yield u, res
    for uid in reqs.keys() - answered:
        yield reqs[uid], RenderFailure(uid, f"{voice.engine} returned no result for this utterance")


def _write_utterance(u: PlannedUtt, res: RenderResult, out: Path) -> dict:
    align_rel = None
    if res.ref_phones is not None:
        align_rel = f"alignments/{u.utt_id}.json"
        path = out / align_rel
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = ENGINES[u.voice.engine]
        path.write_text(json.dumps({
            "id": u.utt_id, "engine": u.voice.engine, "voice": u.voice.voice, "phone_set": engine.phone_set,
            "duration": round(res.duration, 4),
            "phones": [{"phone": p, "start": s, "end": e} for p, s, e in res.ref_phones],
        }, ensure_ascii=False) + "\n", encoding="utf-8")
    return {
        "file_name": res.wav_path.relative_to(out).as_posix(), "id": u.utt_id, "text": u.sentence.text,
        "language": u.voice.language, "speaker": u.voice.speaker, "engine": u.voice.engine,
        "voice": u.voice.voice, "split": u.sentence.split, "duration": round(res.duration, 4),
        "sample_rate": res.sample_rate, "ref_alignment": align_rel, "role": u.voice.role,
        "text_source": u.sentence.source,
    }


def _summarise(report: RenderReport, counts: dict[str, Counter], voices: dict[str, Voice], done: dict) -> None:
    minutes = Counter()
    for row in done.values():
        minutes[row["speaker"], row["language"]] += row["duration"] / 60
    for vid, c in counts.items():
        v = voices[vid]
        report.per_voice[vid] = {"language": v.language, "engine": v.engine, **dict(c),
                                 "minutes_in_corpus": round(minutes[v.speaker, v.language], 2)}
        lang = report.per_language.setdefault(v.language, Counter())
        lang.update({k: c[k] for k in ("planned", "rendered", "skipped_existing", "failed")})
    for lang, c in report.per_language.items():
        report.per_language[lang] = {**dict(c), "minutes_in_corpus": round(
            sum(m for (_, lg), m in minutes.items() if lg == lang), 2)}
    report.rendered = sum(c["rendered"] for c in counts.values())
    report.failed = sum(c["failed"] for c in counts.values())
    report.minutes_rendered_now = round(report.minutes_rendered_now, 2)
    report.minutes_in_corpus = round(sum(minutes.values()), 2)
