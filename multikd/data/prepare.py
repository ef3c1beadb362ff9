"""`multikd prepare`: a corpus (via its data card) → the prepared format every later stage reads.

Output folder::

    dataset/            datasets.Dataset (save_to_disk): id speaker language text phones wav duration
                        n_frames mel [n_frames, n_mels] f0 energy trim_start ref_alignment split extra
    wavs/<id>.wav       the cleaned audio (mono, resampled, trimmed, loudness-normalised, 16-bit)
    metadata.jsonl      AudioFolder-compatible manifest of the kept utterances (file_name, text, phones…)
    symbols.json        symbol table over the kept utterances' phones
    speakers.json       per-speaker utterance counts, minutes and pitch statistics (for normalising F0)
    report.json         accounting: total = kept + rejected (by reason) + not selected; wall time, speed
    rejected.tsv        every rejected utterance: id, reason, detail
    config.json         resolved selection and audio settings, card, licence, versions, git commit
    shards/NNNNN/       work units; a re-run skips shards whose fingerprint (settings, card, lexicons,
                        utterance ids and audio identity) is unchanged, so an interrupted run resumes

Every selected utterance is either kept or rejected with one reason; nothing is dropped silently.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from multikd.audio.config import AudioConfig
from multikd.errors import AudioError, CorpusError, EmptyTextError, MultikdError, UnknownLanguageError, UnsupportedCharacterError

log = logging.getLogger(__name__)

# Speaking-rate sanity bounds (phones per second of trimmed audio). Read speech runs at ~8–15 phones/s;
# outside 1–30 the transcript almost certainly belongs to other audio (or the audio is mostly silence).
MIN_PHONES_PER_S, MAX_PHONES_PER_S = 1.0, 30.0
FORMAT_VERSION = 1  # bump when the prepared layout changes: old shards are then recomputed


@dataclass
class PrepareResult:
    out_dir: Path
    total: int  # rows the source gave
    selected: int
    kept: int
    rejected: Counter = field(default_factory=Counter)
    seconds_selected: float = 0.0  # audio read (before trimming) of the selected rows that decoded
    seconds_kept: float = 0.0
    wall_seconds: float = 0.0
    shards_reused: int = 0

    def summary(self) -> str:
        why = ", ".join(f"{k} {v}" for k, v in sorted(self.rejected.items())) or "none"
        speed = self.seconds_selected / self.wall_seconds if self.wall_seconds else 0.0
        return (f"prepared {self.kept} of {self.selected} selected utterances ({self.total} in the corpus); "
                f"rejected {sum(self.rejected.values())}: {why}; {self.seconds_kept / 60:.1f} min kept; "
                f"{self.wall_seconds:.1f} s wall ({speed:.0f}x real time"
                f"{', ' + str(self.shards_reused) + ' shard(s) reused' if self.shards_reused else ''}) → {self.out_dir}")


def _safe_name(uid: str) -> str:
    name = re.sub(r"[^\w.-]", "_", uid)[:120]
    return name if name == uid else f"{name}-{hashlib.sha1(uid.encode()).hexdigest()[:8]}"


def _audio_identity(audio: dict) -> str:
    if audio.get("bytes"):
        return hashlib.sha1(audio["bytes"]).hexdigest()
    p = Path(audio.get("path") or "")
    try:
        st = p.stat()
        return f"{p}:{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        return f"{p}:missing"


def _language_fingerprint(isos: set[str]) -> dict:
    from multikd.text.languages import get_language

    out = {}
    for iso in sorted(isos):
        try:
            lang = get_language(iso)
        except UnknownLanguageError:
            out[iso] = None
            continue
        h = hashlib.sha1()
        for f in (lang.lang_toml, lang.lexicon_path):
            if f.exists():
                h.update(f.read_bytes())
        out[iso] = h.hexdigest()
    return out


def _text_results(rows, languages: list[str]) -> list:
    """G2P for every row, batched per language; an error object in place of a failed row."""
    from multikd.text import get_frontend

    results: list = [None] * len(rows)
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, lang in enumerate(languages):
        by_lang[lang].append(i)
    for lang, idx in by_lang.items():
        try:
            fe = get_frontend(lang)
        except UnknownLanguageError as e:
            for i in idx:
                results[i] = e
            continue
        for i, res in zip(idx, fe.phonemize_batch([rows[i] for i in idx], errors="collect")):
            results[i] = res
    return results


def _text_reason(err: MultikdError) -> str:
    if isinstance(err, EmptyTextError):
        return "missing_transcript"
    if isinstance(err, UnknownLanguageError):
        return "unknown_language"
    if isinstance(err, UnsupportedCharacterError):
        return "unknown_characters"
    return "g2p_failed"


def _shift_alignment(path: Path | None, trim_start: float, duration: float) -> str:
    """Reference phone timings moved onto the trimmed audio (JSON string), or "" when there are none."""
    if path is None or not path.is_file():
        return ""
    data = json.loads(path.read_text(encoding="utf-8"))
    phones = data.get("phones", data) if isinstance(data, dict) else data
    shifted = []
    for p in phones:
        s, e = float(p["start"]) - trim_start, float(p["end"]) - trim_start
        if e <= 0 or s >= duration:
            continue  # fell entirely inside the trimmed silence
        shifted.append({"phone": p["phone"], "start": round(max(s, 0.0), 4), "end": round(min(e, duration), 4)})
    engine = data.get("engine", "") if isinstance(data, dict) else ""
    return json.dumps({"engine": engine, "phones": shifted}, ensure_ascii=False)


def _features(n_mels: int):
    import datasets as hfd

    return hfd.Features({
        "id": hfd.Value("string"), "speaker": hfd.Value("string"), "language": hfd.Value("string"),
        "text": hfd.Value("string"), "phones": hfd.Sequence(hfd.Value("string")), "wav": hfd.Value("string"),
        "duration": hfd.Value("float32"), "n_frames": hfd.Value("int32"),
        "mel": hfd.Array2D(shape=(None, n_mels), dtype="float32"),
        "f0": hfd.Sequence(hfd.Value("float32")), "energy": hfd.Sequence(hfd.Value("float32")),
        "trim_start": hfd.Value("float32"), "ref_alignment": hfd.Value("string"),
        "split": hfd.Value("string"), "extra": hfd.Value("string"),
    })


def _to_dataset(rows: list[dict], n_mels: int):
    import datasets as hfd

    feats = _features(n_mels)
    if not rows:  # from_list([]) loses the schema; an empty shard must still concatenate with the others
        return hfd.Dataset.from_dict({k: [] for k in feats}, features=feats)
    return hfd.Dataset.from_list(rows, features=feats)


def _process_shard(ds, idx: list[int], cfg: AudioConfig, out_dir: Path, ref_base: Path | None, bar):
    """Prepare rows ``idx`` of ``ds``; returns (kept rows, rejections [(id, reason, detail)], seconds_in)."""
    from multikd.audio.features import extract_features
    from multikd.audio.io import load_audio, save_wav
    from multikd.audio.quality import AudioRejected, preprocess
    from multikd.text.ipa import is_stress, is_tone
    from multikd.text.symbols import SPECIALS

    part = ds.select(idx)
    texts = [t or "" for t in part["text"]]
    langs = list(part["language"])
    g2p = _text_results(texts, langs)
    passthrough = [c for c in part.column_names if c not in ("id", "audio", "text", "speaker", "language")]
    kept, rejected, seconds_in = [], [], 0.0
    for j, row in enumerate(part):
        uid = row["id"]
        bar.update(1)
        res = g2p[j]
        if isinstance(res, MultikdError):
            rejected.append((uid, _text_reason(res), str(res)))
            continue
        try:
            wav = load_audio(row["audio"], cfg.sample_rate, where=uid)
            seconds_in += len(wav) / cfg.sample_rate
            wav, info = preprocess(wav, cfg.sample_rate, cfg, where=uid)
        except AudioRejected as e:
            rejected.append((uid, e.reason.value, str(e)))
            continue
        except AudioError as e:
            rejected.append((uid, "unreadable", str(e)))
            continue
        n_phones = sum(1 for p in res.phones if p not in SPECIALS and not is_stress(p) and not is_tone(p))
        rate = n_phones / info["seconds"]
        if not MIN_PHONES_PER_S <= rate <= MAX_PHONES_PER_S:
            rejected.append((uid, "text_audio_mismatch",
                             f"{uid}: {n_phones} phones in {info['seconds']:.2f} s = {rate:.1f} phones/s "
                             f"(expected {MIN_PHONES_PER_S:g}–{MAX_PHONES_PER_S:g}) — check that the transcript "
                             "belongs to this audio"))
            continue
        feats = extract_features(wav, cfg)
        rel = f"wavs/{_safe_name(uid)}.wav"
        save_wav(out_dir / rel, wav, cfg.sample_rate)
        trim_start = info["trim"][0] / cfg.sample_rate
        extra = {c: row[c] for c in passthrough
                 if c not in ("split", "ref_alignment", "duration") and isinstance(row[c], (str, int, float, bool))}
        ref = row.get("ref_alignment")
        kept.append({
            "id": uid, "speaker": row["speaker"], "language": row["language"], "text": res.text,
            "phones": res.phones, "wav": rel, "duration": info["seconds"], "n_frames": int(feats["n_frames"]),
            "mel": feats["mel"].T.contiguous().numpy(), "f0": feats["f0"], "energy": feats["energy"],
            "trim_start": trim_start,
            "ref_alignment": _shift_alignment(ref_base / ref if (ref and ref_base) else None, trim_start,
                                              info["seconds"]),
            "split": str(row.get("split") or ""), "extra": json.dumps(extra, ensure_ascii=False, default=str),
        })
    return kept, rejected, seconds_in


def _git_commit() -> str | None:
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def prepare(card_path: str | Path, out_dir: str | Path, selection, audio: AudioConfig | None = None, *,
            shard_size: int = 200, progress: bool = True) -> PrepareResult:
    """Prepare the corpus of ``card_path`` into ``out_dir`` (see module docstring).

    Args:
        selection: a :class:`multikd.recipe.DataSelection` (split, languages, speakers, minutes, seed,
            allow_unlicensed); its ``card`` field is ignored in favour of ``card_path``.
    """
    import datasets as hfd
    from tqdm.auto import tqdm

    import multikd
    from multikd.audio.features import speaker_pitch_stats
    from multikd.data.cards import load_card, require_licence
    from multikd.data.select import select_rows
    from multikd.data.sources import load_source
    from multikd.text.symbols import SymbolTable

    t0 = time.perf_counter()
    hfd.disable_progress_bars()  # our own bar counts utterances; theirs would interleave with it
    cfg = audio or AudioConfig()
    out = Path(out_dir)
    card_path = Path(card_path)
    if card_path.is_dir():
        card_path = card_path / "README.md"
    card = load_card(card_path)
    require_licence(card, selection.allow_unlicensed)
    ds = load_source(card, split=selection.split)
    sel = select_rows(ds, languages=selection.languages, speakers=selection.speakers,
                      minutes=selection.minutes, seed=selection.seed)
    ref_base = None
    if card.source.path and card.source.format in ("audiofolder", "csv", "ljspeech", "festvox"):
        ref_base = (card_path.parent / card.source.path).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "wavs").mkdir(exist_ok=True)
    base_fp = {"format": FORMAT_VERSION, "audio": cfg.to_dict(), "card": hashlib.sha1(card_path.read_bytes()).hexdigest(),
               "languages": _language_fingerprint(set(ds.unique("language"))),
               "rates": [MIN_PHONES_PER_S, MAX_PHONES_PER_S]}
    ids = ds["id"]
    audios = None
    result = PrepareResult(out_dir=out, total=sel.total, selected=len(sel.indices), kept=0)
    shard_dirs, all_rejected = [], []
    with tqdm(total=len(sel.indices), desc="prepare", unit="utt", disable=not progress) as bar:
        for k in range(0, len(sel.indices), shard_size):
            idx = sel.indices[k:k + shard_size]
            if audios is None:
                audios = ds.select_columns(["audio"])
            fp = hashlib.sha1(json.dumps([base_fp, [ids[i] for i in idx],
                                          [_audio_identity(audios[i]["audio"]) for i in idx]]).encode()).hexdigest()
            sdir = out / "shards" / f"{k // shard_size:05d}"
            done = sdir / "done.json"
            if done.is_file() and json.loads(done.read_text()).get("fingerprint") == fp:
                state = json.loads(done.read_text())
                result.shards_reused += 1
                bar.update(len(idx))
            else:
                kept, rejected, seconds_in = _process_shard(ds, idx, cfg, out, ref_base, bar)
                tmp = sdir.with_name(sdir.name + ".tmp")
                shutil.rmtree(tmp, ignore_errors=True)
                if kept:  # datasets can neither reload nor concatenate a zero-row dataset
                    _to_dataset(kept, cfg.n_mels).save_to_disk(str(tmp / "data"))
                else:
                    tmp.mkdir(parents=True)
                state = {"fingerprint": fp, "kept": len(kept), "rejected": rejected, "seconds_in": seconds_in}
                (tmp / "done.json").write_text(json.dumps(state, ensure_ascii=False))
                shutil.rmtree(sdir, ignore_errors=True)
                tmp.rename(sdir)  # a shard is complete or absent, never half-written
            shard_dirs.append(sdir)
            all_rejected += [tuple(r) for r in state["rejected"]]
            result.kept += state["kept"]
            result.seconds_selected += state["seconds_in"]
    for old in sorted((out / "shards").glob("*")) if (out / "shards").exists() else []:
        if old not in shard_dirs:
            shutil.rmtree(old)  # left from a larger earlier selection
    result.rejected = Counter(r[1] for r in all_rejected)

    parts = [hfd.load_from_disk(str(d / "data")) for d in shard_dirs if (d / "data").is_dir()]
    merged = hfd.concatenate_datasets(parts) if parts else _to_dataset([], cfg.n_mels)
    final = out / "dataset"
    tmp_final = out / "dataset.tmp"
    shutil.rmtree(tmp_final, ignore_errors=True)
    merged.save_to_disk(str(tmp_final))
    shutil.rmtree(final, ignore_errors=True)
    tmp_final.rename(final)

    meta = merged.select_columns(["id", "wav", "text", "phones", "speaker", "language", "duration", "split"])
    kept_wavs = set()
    with open(out / "metadata.jsonl", "w", encoding="utf-8") as fh:
        for r in meta:
            kept_wavs.add(r["wav"])
            fh.write(json.dumps({"file_name": r["wav"], "id": r["id"], "text": r["text"], "phones": " ".join(r["phones"]),
                                 "speaker": r["speaker"], "language": r["language"], "duration": round(r["duration"], 3),
                                 "split": r["split"]}, ensure_ascii=False) + "\n")
    for wav in (out / "wavs").glob("*.wav"):  # wavs of utterances no longer kept (changed settings)
        if f"wavs/{wav.name}" not in kept_wavs:
            wav.unlink()
    result.seconds_kept = float(np.sum(meta["duration"])) if len(meta) else 0.0

    SymbolTable(t for ph in meta["phones"] for t in ph).save(out / "symbols.json")
    speakers: dict[str, dict] = {}
    f0s: dict[str, list] = defaultdict(list)
    for r in merged.select_columns(["speaker", "language", "f0", "duration"]):
        s = speakers.setdefault(r["speaker"], {"utterances": 0, "minutes": 0.0, "languages": []})
        s["utterances"] += 1
        s["minutes"] += r["duration"] / 60
        if r["language"] not in s["languages"]:
            s["languages"].append(r["language"])
        f0s[r["speaker"]].append(np.asarray(r["f0"], dtype=np.float32))
    for spk, s in speakers.items():
        try:
            s["pitch"] = speaker_pitch_stats(f0s[spk], where=spk)
        except MultikdError as e:
            s["pitch"] = None
            log.warning("speaker %s: no pitch statistics (%s)", spk, e)
    (out / "speakers.json").write_text(json.dumps(speakers, indent=1, ensure_ascii=False))

    with open(out / "rejected.tsv", "w", encoding="utf-8") as fh:
        fh.write("id\treason\tdetail\n")
        for uid, reason, detail in all_rejected:
            fh.write(f"{uid}\t{reason}\t{' '.join(detail.split())}\n")
    result.wall_seconds = time.perf_counter() - t0
    assert result.kept + sum(result.rejected.values()) == result.selected, "accounting must add up"
    report = {"total": result.total, "selected": result.selected, "kept": result.kept,
              "rejected": dict(result.rejected), "rejected_total": sum(result.rejected.values()),
              "not_selected": {"language": sel.excluded_language, "speaker": sel.excluded_speaker,
                               "budget": sel.excluded_budget},
              "minutes_selected_by_source": sel.minutes_selected,
              "seconds_read": result.seconds_selected, "seconds_kept": result.seconds_kept,
              "wall_seconds": result.wall_seconds, "shards_reused": result.shards_reused,
              "real_time_factor": result.seconds_selected / result.wall_seconds if result.wall_seconds else None}
    (out / "report.json").write_text(json.dumps(report, indent=1))
    if result.kept == 0 and result.selected:
        raise CorpusError(f"none of the {result.selected} selected utterances survived preparation",
                          where=str(card_path), fix=f"read the reasons in {out / 'rejected.tsv'}")
    config = {"card": str(card_path.resolve()), "card_name": card.name, "licence": card.license,
              "synthetic": card.synthetic, "selection": {k: v for k, v in asdict(selection).items()},
              "audio": cfg.to_dict(), "multikd": multikd.__version__, "git_commit": _git_commit(),
              "format_version": FORMAT_VERSION}
    (out / "config.json").write_text(json.dumps(config, indent=1, default=str))
    return result
