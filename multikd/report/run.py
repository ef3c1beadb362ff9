"""One evaluation run: synthesise held-out sentences with every system, score them, write the artifacts.

``evaluate_systems`` is what ``multikd evaluate`` calls. It writes into the output folder::

    audio/reference/<id>.wav      the prepared test recordings (copied)
    audio/<system>/<id>.wav       each system's speech for the same sentence
    metrics.json                  everything the report shows (schema: :data:`RESULT_FORMAT`, version 1)
    metrics.csv                   one row per system × utterance with every metric value

Tables, plots and the HTML page are built from ``metrics.json`` alone (:mod:`multikd.report.tables`,
:mod:`multikd.report.plots`, :mod:`multikd.report.html`), so a report can be rebuilt without re-synthesis.
"""
from __future__ import annotations

import csv
import datetime
import json
import logging
import math
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from multikd.errors import ConfigError, CorpusError, MultikdError

log = logging.getLogger(__name__)

__all__ = ["System", "parse_systems", "parse_speaker_map", "select_test_rows", "evaluate_systems",
           "RESULT_FORMAT"]

RESULT_FORMAT = "multikd-evaluation"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
# Rows of the per-utterance CSV before the metric columns.
CSV_FIXED = ("system", "language", "id", "speaker_ref", "speaker_used", "text", "hyp", "ref")


@dataclass(frozen=True)
class System:
    """A named model folder to evaluate (``name`` becomes a folder and a table row)."""

    name: str
    model_dir: Path


def parse_systems(specs: list[str]) -> list[System]:
    """``["distill-5min=runs/a/model", ...]`` → systems, checked for duplicate and unsafe names.

    Raises:
        ConfigError: a spec without ``=``, a name that cannot be a folder name, a repeated name, or the
            reserved name ``reference``.
    """
    systems, seen = [], set()
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"system {spec!r} is not NAME=MODEL_DIR", where="--systems",
                              fix="e.g. --systems teacher=runs/teacher/model distill-15min=runs/d15/model")
        if not _NAME_RE.match(name) or name == "reference":
            raise ConfigError(f"system name {name!r} cannot be used", where="--systems",
                              fix="letters, digits, '.', '_', '+', '-' (not 'reference', which names the recordings)")
        if name in seen:
            raise ConfigError(f"system name {name!r} given twice", where="--systems", fix="give each system its own name")
        seen.add(name)
        systems.append(System(name, Path(path)))
    if not systems:
        raise ConfigError("no system to evaluate", where="--systems", fix="give at least one NAME=MODEL_DIR")
    return systems


def parse_speaker_map(specs: list[str] | None) -> dict[tuple[str | None, str], str]:
    """``["REF=SPK", "SYSTEM:REF=SPK"]`` → ``{(system or None, ref speaker): model speaker}``.

    A plain ``REF=SPK`` applies to every system; ``SYSTEM:REF=SPK`` to one system and wins over it.
    """
    out: dict[tuple[str | None, str], str] = {}
    for spec in specs or []:
        left, sep, spk = spec.partition("=")
        if not sep or not left or not spk:
            raise ConfigError(f"speaker map {spec!r} is not REF=SPEAKER or SYSTEM:REF=SPEAKER", where="--speaker-map",
                              fix="e.g. --speaker-map festival-ona=festival-slt")
        system, colon, ref = left.partition(":")
        out[(system, ref) if colon else (None, left)] = spk
    return out


def _corpus_info(test_dir: Path) -> dict:
    """Card name, licence and ``synthetic`` flag from the prepared folder's config.json."""
    path = test_dir / "config.json"
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise CorpusError(f"cannot read the prepared folder's config.json ({e})", where=str(path),
                          fix="give a folder written by `multikd prepare`") from None
    return {"path": str(test_dir), "card_name": cfg.get("card_name"), "licence": cfg.get("licence"),
            "synthetic": bool(cfg.get("synthetic", False)), "audio": cfg.get("audio") or {}}


def select_test_rows(test_dir: Path, languages: list[str] | None, per_language: int) -> tuple[dict[str, list[dict]], dict[str, str]]:
    """The first ``per_language`` held-out rows of each language, in dataset order (deterministic).

    Per language, rows whose ``split`` is ``test`` are used when there are any; otherwise all of the
    language's rows are (a folder prepared with ``--split test`` has only test rows anyway). Which of the two
    happened is returned, so the report can say when it scored sentences that may have been trained on.

    Args:
        languages: ISO 639-3 keys, or None for every language in the folder.
    Returns:
        ``({lang: [row, ...]}, {lang: "test" | "all"})``; rows have id, language, speaker, text, wav.
    Raises:
        CorpusError: no prepared dataset, or an asked language with no rows (listing those present).
    """
    import datasets

    if not (test_dir / "dataset").is_dir():
        raise CorpusError("no prepared dataset/ in the test folder", where=str(test_dir),
                          fix="give a folder written by `multikd prepare` (e.g. with --split test)")
    ds = datasets.load_from_disk(str(test_dir / "dataset"))
    cols = [c for c in ("id", "language", "speaker", "text", "wav", "split") if c in ds.column_names]
    by_lang: dict[str, list[dict]] = {}
    for row in ds.select_columns(cols):
        by_lang.setdefault(row["language"], []).append(row)
    wanted = languages or sorted(by_lang)
    missing = [lang for lang in wanted if lang not in by_lang]
    if missing:
        raise CorpusError(f"no test sentences for {', '.join(missing)}", where=str(test_dir),
                          fix=f"languages in this folder: {', '.join(sorted(by_lang)) or 'none'}")
    chosen, split_used = {}, {}
    for lang in wanted:
        rows = by_lang[lang]
        test = [r for r in rows if r.get("split") == "test"]
        split_used[lang] = "test" if test else "all"
        chosen[lang] = (test or rows)[:per_language]
    return chosen, split_used


def _choose_speaker(synth, system: str, ref_speaker: str, iso: str, speaker_map: dict) -> tuple[str, str | None]:
    """The model speaker for a reference speaker and, when it is not the same voice, why (for the report)."""
    mapped = speaker_map.get((system, ref_speaker)) or speaker_map.get((None, ref_speaker))
    if mapped is not None:
        return synth.speaker(mapped, iso), f"{ref_speaker} → {mapped} (--speaker-map)"
    if ref_speaker in synth.speakers:
        return ref_speaker, None
    fallback = synth.speaker(None, iso)
    return fallback, f"{ref_speaker} unknown to the model → {fallback} (its first speaker of {iso})"


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _system_cost(synth, system: System, text: str, lang: str, speaker: str, runs: int) -> dict:
    from multikd.evaluate import measure_rtf, model_cost

    cost = model_cost(system.model_dir)
    rtf = measure_rtf(lambda: synth.speak(text, lang, speaker)[0], lambda wav: len(wav) / synth.sample_rate,
                      n=runs, warmup=1, threads=1)
    return {"parameters": cost["parameters"], "folder_mb": cost["folder_mb"], "weights_bytes": cost["weights_bytes"],
            "rtf_cpu_1thread": rtf["rtf"], "rtf_audio_seconds": rtf["audio_seconds"], "rtf_runs": rtf["runs"],
            "rtf_sentence": text, "vocoder": type(synth.vocoder).__name__}


def evaluate_systems(systems: list[System], test_dir: str | Path, out_dir: str | Path, *,
                     languages: list[str] | None = None, metrics: list[str] | tuple[str, ...] = ("mcd", "f0_rmse", "vuv_error", "duration"),
                     per_language: int = 10, speaker_map: dict | None = None, vocoder: str = "griffinlim",
                     cost: bool = True, rtf_runs: int = 3, progress: bool = True) -> dict:
    """Synthesise, score and write ``audio/``, ``metrics.json`` and ``metrics.csv`` (see module docstring).

    A system that does not speak a language gets that cell marked ``{"skipped": reason}`` rather than
    failing the whole run: a cross-lingual matrix naturally has systems that lack some languages.

    Returns:
        The ``metrics.json`` content: ``{"format", "version", "created", "git_commit", "test": {path,
        card_name, licence, synthetic, split_used, n_per_language}, "languages", "metrics", "metric_info",
        "systems": {name: {"model_dir", "cost", "languages": {lang: {"n", "summary" | "skipped",
        "speaker_notes"}}}}, "utterances": {lang: [{id, text, speaker}]}}``.
    Raises:
        ConfigError, CorpusError: bad arguments or folders; AudioError: an unreadable reference.
    """
    import soundfile as sf

    from multikd.evaluate import evaluate_pairs, get_metric
    from multikd.synthesis import Synthesizer

    test_dir, out = Path(test_dir), Path(out_dir)
    if per_language < 1:
        raise ConfigError(f"per_language must be >= 1, got {per_language}", where="--per-language")
    chosen_metrics = [get_metric(m) for m in metrics]  # unknown names fail before any synthesis
    info = _corpus_info(test_dir)
    rows_by_lang, split_used = select_test_rows(test_dir, languages, per_language)
    ref_dir = out / "audio" / "reference"
    ref_dir.mkdir(parents=True, exist_ok=True)
    utterances: dict[str, list[dict]] = {}
    for lang, rows in rows_by_lang.items():
        for r in rows:
            r["file"] = Path(r["wav"]).stem  # prepare already made it a safe file name
            shutil.copyfile(test_dir / r["wav"], ref_dir / f"{r['file']}.wav")
        utterances[lang] = [{"id": r["id"], "file": r["file"], "text": r["text"], "speaker": r["speaker"]} for r in rows]

    result_systems: dict[str, dict] = {}
    csv_rows: list[dict] = []
    total = len(systems) * sum(len(r) for r in rows_by_lang.values())
    bar = tqdm(total=total, desc="synthesise", unit="utt", disable=not progress)
    for system in systems:
        synth = Synthesizer(system.model_dir, vocoder=vocoder)
        entry: dict = {"model_dir": str(system.model_dir), "languages": {}, "cost": None}
        first_spoken = None
        for lang, rows in rows_by_lang.items():
            if lang not in synth.languages:
                reason = f"{system.name} does not speak {lang} (it speaks {', '.join(synth.languages)})"
                entry["languages"][lang] = {"n": 0, "skipped": reason, "speaker_notes": []}
                log.warning("%s", reason)
                bar.update(len(rows))
                continue
            pairs, meta, notes = [], [], set()
            for r in rows:
                speaker, note = _choose_speaker(synth, system.name, r["speaker"], lang, speaker_map or {})
                if note:
                    notes.add(note)
                try:
                    wav, sr = synth.speak(r["text"], lang, speaker)
                except MultikdError as e:  # e.g. a phone the system's table lacks: say which sentence
                    raise MultikdError(f"{system.name} cannot speak test sentence {r['id']}: {e.what}",
                                       where=e.where, fix=e.fix) from e
                hyp = out / "audio" / system.name / f"{r['file']}.wav"
                hyp.parent.mkdir(parents=True, exist_ok=True)
                sf.write(hyp, wav, sr, subtype="PCM_16")
                pairs.append((hyp, ref_dir / f"{r['file']}.wav", r["text"], lang))
                meta.append((r, speaker))
                bar.update(1)
            first_spoken = first_spoken or (lang, rows[0], meta[0][1])
            rows_scored, summary = evaluate_pairs(pairs, [m.name for m in chosen_metrics], progress=False)
            for scored, (r, speaker) in zip(rows_scored, meta):
                csv_rows.append({"system": system.name, "language": lang, "id": r["id"], "speaker_ref": r["speaker"],
                                 "speaker_used": speaker, **{k: v for k, v in scored.items() if k != "lang"},
                                 "hyp": str(Path(scored["hyp"]).relative_to(out)),
                                 "ref": str(Path(scored["ref"]).relative_to(out))})
            slim = {"values": summary["values"], "corpus": summary["corpus"],
                    "skipped": {k: v["skipped"] for k, v in summary["metrics"].items() if v["skipped"]}}
            entry["languages"][lang] = {"n": len(pairs), "summary": slim, "speaker_notes": sorted(notes)}
        if cost and first_spoken:
            lang, row, speaker = first_spoken
            entry["cost"] = _system_cost(synth, system, row["text"], lang, speaker, rtf_runs)
        result_systems[system.name] = entry
    bar.close()

    result = {
        "format": RESULT_FORMAT, "version": 1,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "test": {**info, "split_used": split_used, "n_per_language": {k: len(v) for k, v in rows_by_lang.items()}},
        "languages": list(rows_by_lang), "metrics": [m.name for m in chosen_metrics],
        "metric_info": {m.name: {"keys": list(m.keys), "higher_is_better": m.higher_is_better,
                                 "description": m.describe()} for m in chosen_metrics},
        "vocoder": vocoder, "systems": result_systems, "utterances": utterances,
    }
    result = _clean(result)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    write_csv(csv_rows, out / "metrics.csv")
    return result


def _clean(v):
    """NaN → null (an interval from one value is undefined; strict JSON has no NaN); numpy → Python."""
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def write_csv(rows: list[dict], path: Path) -> None:
    """Per-utterance rows → CSV; metric columns are the union over rows, in first-seen order."""
    extra: list[str] = []
    for r in rows:
        extra += [k for k in r if k not in CSV_FIXED and k not in extra]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(CSV_FIXED) + extra, restval="")
        w.writeheader()
        w.writerows(rows)
