"""`multikd new-language`: the files a contributor fills in to add a language, generated from what is known.

For an ISO 639-1/639-3 code and a corpus (a Hugging Face dataset, or a local folder of recordings and
transcripts) this writes, under a root folder (the repository)::

    recipes/<iso>/recipe.yaml          a distillation recipe (student from the demo teacher)
    recipes/<iso>/README.md            the exact commands, in order, and an empty results table
    recipes/<iso>/test_sentences.txt   placeholder sentences the contributor replaces
    data_cards/<iso>_<corpus>.md       the corpus' card; its licence stays empty until filled in
    lexicons/<iso>-<Script>/           lang.toml + sentences.txt (+ lexicon.tsv), unless the language exists

Language knowledge comes from data, in this order: multikd's own ``lang.toml`` files; Debian's iso-codes
table (``/usr/share/iso-codes/json/iso_639-3.json``); a small built-in table. The G2P settings come from
what espeak-ng and epitran installed here support. Values nobody can know here (the corpus licence, the
lexicon's licence, consent) are left visibly empty so that ``multikd check`` reports them until filled.
"""
from __future__ import annotations

import csv
import difflib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from multikd.errors import ConfigError, CorpusError, UnknownLanguageError

log = logging.getLogger(__name__)

ISO_CODES_JSON = Path("/usr/share/iso-codes/json")  # Debian's iso-codes package
# Used only where iso-codes is missing: languages of the corpora multikd documents and their neighbours.
_BUILTIN_ISO = {
    "afr": ("af", "Afrikaans"), "amh": ("am", "Amharic"), "ara": ("ar", "Arabic"), "ben": ("bn", "Bengali"),
    "cat": ("ca", "Catalan"), "ceb": (None, "Cebuano"), "ces": ("cs", "Czech"), "cym": ("cy", "Welsh"),
    "deu": ("de", "German"), "eng": ("en", "English"), "eus": ("eu", "Basque"), "fin": ("fi", "Finnish"),
    "fra": ("fr", "French"), "hau": ("ha", "Hausa"), "hin": ("hi", "Hindi"), "ibo": ("ig", "Igbo"),
    "ind": ("id", "Indonesian"), "ita": ("it", "Italian"), "kin": ("rw", "Kinyarwanda"), "lug": ("lg", "Ganda"),
    "mar": ("mr", "Marathi"), "msa": ("ms", "Malay"), "nld": ("nl", "Dutch"), "pol": ("pl", "Polish"),
    "por": ("pt", "Portuguese"), "que": ("qu", "Quechua"), "rus": ("ru", "Russian"), "spa": ("es", "Spanish"),
    "swa": ("sw", "Swahili"), "tam": ("ta", "Tamil"), "tel": ("te", "Telugu"), "tgl": ("tl", "Tagalog"),
    "tur": ("tr", "Turkish"), "ukr": ("uk", "Ukrainian"), "vie": ("vi", "Vietnamese"), "wol": ("wo", "Wolof"),
    "xho": ("xh", "Xhosa"), "yor": ("yo", "Yoruba"), "zul": ("zu", "Zulu"),
}
RESULTS_HEADER = ("| date | commit | multikd / torch / transformers | device | minutes | steps | system | MCD dB "
                  "| F0 RMSE cents | V/UV err | abs log dur ratio |\n" + "|---" * 11 + "|")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
TEACHER = "../../pretrained/demo-teacher"  # relative to recipes/<iso>/
MINUTES = 30  # the target-data budget the README's commands use (edit to what you have)
MODES = ("distill", "finetune", "scratch")  # every student mode, so a README's table compares all three
PLACEHOLDER_NUMBERS = "1, 2, 3, 10, 25, 100."  # read by num2words or espeak-ng in any language they know
LOCAL_LAYOUTS = (
    "an AudioFolder: audio files + metadata.csv (or metadata.jsonl) with a `file_name` column and a transcript "
    "column (`transcription` or `text`), optionally a `split` column (train/test) or train/ and test/ "
    "sub-folders each with their own metadata;\n"
    "  LJSpeech: metadata.csv lines `id|text|normalized text` + wavs/<id>.wav;\n"
    "  Festvox: etc/txt.done.data lines `( id \"text\" )` + wav/<id>.wav;\n"
    "  or pairs <name>.wav + <name>.txt, turned into metadata.csv by --write-metadata")


# ---------------------------------------------------------------- which language

@dataclass(frozen=True)
class LanguageId:
    iso3: str
    iso1: str | None
    name: str
    lang_toml: Path | None = None  # an existing lexicon folder's lang.toml (its settings are reused)


def _iso_table() -> tuple[dict[str, tuple[str | None, str]], str]:
    """ISO 639-3 code → (ISO 639-1 code, English name), and where the table came from."""
    path = ISO_CODES_JSON / "iso_639-3.json"
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))["639-3"]
    except (OSError, ValueError, KeyError):
        return dict(_BUILTIN_ISO), "multikd's built-in table"
    return {r["alpha_3"]: (r.get("alpha_2"), r["name"]) for r in rows}, str(path)


def identify_language(code: str, root: Path) -> LanguageId:
    """ISO 639-3, ISO 639-1 or BCP-47 code (``sw``, ``swa``, ``sw-KE``), or an English name → LanguageId.

    Raises:
        UnknownLanguageError: with close matches from the table.
    """
    from multikd.text.languages import LanguageRegistry, default_registry

    key = code.strip().lower().replace("_", "-")
    own = LanguageRegistry([root / "lexicons"]) if (root / "lexicons").is_dir() else None
    for registry in (own, default_registry()):
        try:
            lang = registry.resolve(key) if registry else None
        except UnknownLanguageError:
            continue
        if lang:
            iso1 = next((a for a in lang.aliases if len(a) == 2), None)
            return LanguageId(lang.iso, iso1, lang.name, lang.lang_toml)
    table, source = _iso_table()
    by_iso1 = {v[0]: k for k, v in table.items() if v[0]}
    by_name = {v[1].lower(): k for k, v in table.items()}
    sub = key.split("-")[0]
    iso3 = sub if sub in table else by_iso1.get(sub) or by_name.get(key)
    if iso3 is None:
        pool = list(table) + list(by_iso1) + list(by_name)
        close = difflib.get_close_matches(key, pool, n=6, cutoff=0.6)
        found = sorted({c if c in table else by_iso1.get(c) or by_name[c] for c in close})
        hint = ", ".join(f"{c} ({table[c][1]})" for c in found)
        raise UnknownLanguageError(
            f"unknown language code {code!r} (looked up in {source})",
            fix=(f"did you mean {hint}? " if hint else "") + "give an ISO 639-3 code (e.g. swa) or ISO 639-1 "
            "code (e.g. sw); see https://iso639-3.sil.org")
    iso1, name = table[iso3]
    return LanguageId(iso3, iso1, name.split(";")[0].split(" (")[0].strip())


# ---------------------------------------------------------------- what the G2P backends offer

@dataclass
class G2PSupport:
    script: str
    espeak_voice: str | None
    epitran_code: str | None
    num2words: str | None
    other_epitran: list[str] = field(default_factory=list)
    other_espeak: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # guesses the contributor should confirm

    @property
    def order(self) -> list[str]:
        # espeak-ng first where it exists: it reads digits, abbreviations and foreign words, and marks
        # stress; epitran catches what it cannot. Without either, only a lexicon can transcribe.
        backends = [b for b, ok in (("espeak", self.espeak_voice), ("epitran", self.epitran_code)) if ok]
        return backends or ["lexicon"]


def _espeak_candidates(lid: LanguageId, voices: set[str]) -> list[str]:
    exact = [c for c in (lid.iso1, lid.iso3) if c and c in voices]
    regional = sorted((v for v in voices if lid.iso1 and v.startswith(f"{lid.iso1}-")),
                      key=lambda v: (v != f"{lid.iso1}-{lid.iso1}", len(v), v))  # fr-fr before fr-be
    return exact + regional


def g2p_support(lid: LanguageId, script: str | None) -> G2PSupport:
    """The espeak-ng voice, epitran map and num2words code for a language, and its script.

    Raises:
        ConfigError: when epitran knows the language in several scripts and ``script`` is not given.
    """
    from num2words import CONVERTER_CLASSES

    from multikd.text.backends import epitran_codes, espeak_voices

    maps = sorted(c for c in epitran_codes() if c.split("-")[0] == lid.iso3)
    if script is None:
        scripts = sorted({c.split("-")[1] for c in maps if c.count("-") >= 1})
        if len(scripts) > 1:
            raise ConfigError(f"epitran writes {lid.iso3} in several scripts ({', '.join(scripts)})",
                              where="--script", fix=f"pass --script with one of {', '.join(scripts)}")
        script = scripts[0] if scripts else "Latn"
        notes = [] if scripts else [f"assumed the Latin script (Latn) for {lid.iso3}: pass --script (ISO 15924) "
                                    "if it is written otherwise"]
    else:
        notes = []
    if not re.fullmatch(r"[A-Z][a-z]{3}", script):
        raise ConfigError(f"script {script!r} is not an ISO 15924 code", where="--script",
                          fix="use a code such as Latn, Cyrl, Deva, Arab, Ethi")
    for_script = [c for c in maps if c.split("-")[1:2] == [script]]
    epitran = f"{lid.iso3}-{script}" if f"{lid.iso3}-{script}" in for_script else (for_script or [None])[0]
    voices = _espeak_candidates(lid, espeak_voices())
    n2w = next((c for c in (lid.iso1, lid.iso3) if c and c in CONVERTER_CLASSES), None)
    return G2PSupport(script, voices[0] if voices else None, epitran, n2w,
                      [c for c in maps if c != epitran], voices[1:], notes)


# ---------------------------------------------------------------- which corpus

@dataclass
class CorpusPlan:
    """What a data card says about a corpus, plus what the scaffold saw of it locally."""

    slug: str  # data_cards/<iso>_<slug>.md
    pretty_name: str
    source: dict
    columns: dict
    splits: dict[str, dict]
    test_split: str | None  # None: the corpus has no held-out split
    sample_rate: int | list[int] | None = None
    size: str = "unknown"  # Hugging Face size category
    texts: list[str] = field(default_factory=list)  # local transcripts (placeholders for test sentences)
    about: str = ""  # one paragraph for the card's Source section
    local: bool = False


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "corpus"


def hub_corpus(dataset_id: str, *, config: str | None, split: str, test_split: str, audio: str, text: str,
               speaker: str | None, revision: str | None = None, data_dir: str | None = None) -> CorpusPlan:
    source = {"format": "hf", "id": dataset_id, "config": config, "revision": revision, "data_dir": data_dir,
              "split": split}
    columns = {"audio": audio, "text": text, "speaker": speaker}
    call = ", ".join(repr(a) for a in (dataset_id, config) if a)
    return CorpusPlan(
        slug(dataset_id.split("/")[-1]), dataset_id, {k: v for k, v in source.items() if v},
        {k: v for k, v in columns.items() if v},
        {s: {"hours": None, "speakers": None} for s in dict.fromkeys((split, test_split))}, test_split,
        about=f"Hugging Face hub dataset `{dataset_id}`: `datasets.load_dataset({call}, split={split!r})`.")


def _pairs_to_metadata(folder: Path) -> Path:
    """<name>.wav + <name>.txt pairs → metadata.csv (file_name, transcription, split); every 10th is test."""
    pairs = sorted(p for p in folder.rglob("*")
                   if p.suffix.lower() in AUDIO_SUFFIXES and p.with_suffix(".txt").is_file())
    if not pairs:
        raise CorpusError("no <name>.wav + <name>.txt pairs to write metadata.csv from", where=str(folder),
                          fix=f"the folder must hold one of:\n  {LOCAL_LAYOUTS}")
    held_out = {i for i in range(len(pairs)) if i % 10 == 9} or ({len(pairs) - 1} if len(pairs) >= 5 else set())
    meta = folder / "metadata.csv"
    with open(meta, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file_name", "transcription", "split"])
        for i, p in enumerate(pairs):
            text = " ".join(p.with_suffix(".txt").read_text(encoding="utf-8").split())
            w.writerow([p.relative_to(folder).as_posix(), text, "test" if i in held_out else "train"])
    log.info("wrote %s: %d recordings, %d held out for testing", meta, len(pairs), len(held_out))
    return meta


def _audiofolder_columns(folder: Path, text: str | None, speaker: str | None) -> tuple[dict, list[str]]:
    """Columns of an AudioFolder's metadata (first file), and its split names ([] when it has none)."""
    from multikd.data.sources import _metadata_rows

    metas = sorted([*folder.rglob("metadata.csv"), *folder.rglob("metadata.jsonl")])
    rows = _metadata_rows(metas[0])
    names = list(rows[0]) if rows else []
    text = text or next((c for c in ("transcription", "text", "sentence", "normalized_text") if c in names), None)
    if text not in names:
        raise CorpusError(f"no transcript column in {metas[0]} (columns: {', '.join(names)})", where=str(folder),
                          fix="name it with --text-column, or call the column `transcription`")
    speaker = speaker or next((c for c in ("speaker", "speaker_id", "client_id") if c in names), None)
    subdirs = sorted({m.parent.relative_to(folder).parts[0] for m in metas if m.parent != folder})
    splits = subdirs or sorted({str(r["split"]) for m in metas for r in _metadata_rows(m) if r.get("split")},
                               key=lambda s: (s != "train", s))
    return {k: v for k, v in (("audio", "audio"), ("text", text), ("speaker", speaker)) if v}, splits


def local_corpus(folder: Path, *, text: str | None = None, speaker: str | None = None,
                 write_metadata: bool = False) -> tuple[CorpusPlan, Path]:
    """Look at a local folder, pick the corpus format that reads it, and measure it with that loader.

    Returns the plan and the folder (absolute). Raises :class:`CorpusError` naming the folder and the
    layouts multikd reads when it is none of them.
    """
    folder = Path(folder).expanduser().absolute()
    if not folder.is_dir():
        raise CorpusError("no such folder", where=str(folder), fix="give the folder that holds your recordings")
    has_meta = any(folder.rglob("metadata.csv")) or any(folder.rglob("metadata.jsonl"))
    ljspeech = (folder / "metadata.csv").is_file() and (folder / "wavs").is_dir() and \
        "file_name" not in (folder / "metadata.csv").read_text(encoding="utf-8").split("\n", 1)[0]
    if ljspeech:
        fmt, columns, splits = "ljspeech", {"audio": "audio", "text": "text"}, []
    elif (folder / "etc" / "txt.done.data").is_file():
        fmt, columns, splits = "festvox", {"audio": "audio", "text": "text", "id": "id"}, []
    elif has_meta or write_metadata:
        if not has_meta:
            _pairs_to_metadata(folder)
        fmt = "audiofolder"
        columns, splits = _audiofolder_columns(folder, text, speaker)
    else:
        n_pairs = sum(1 for p in folder.rglob("*.txt") if any(p.with_suffix(x).is_file() for x in AUDIO_SUFFIXES))
        fix = (f"it holds {n_pairs} <name>.wav + <name>.txt pairs: rerun with --write-metadata to write "
               f"{folder / 'metadata.csv'} from them (every 10th recording held out as test)") if n_pairs else \
            "arrange it as one of the layouts above"
        raise CorpusError(f"multikd cannot read this folder as a corpus; it reads:\n  {LOCAL_LAYOUTS}",
                          where=str(folder), fix=fix)
    plan = CorpusPlan("local", f"{folder.name}: local recordings", {"format": fmt, "path": str(folder)},
                      columns, {}, "test" if "test" in splits else None, local=True,
                      about=f"Local recordings in `{folder}`, read as format `{fmt}`.")
    _measure(plan, splits or [None])
    return plan, folder


def _measure(plan: CorpusPlan, splits: list[str | None]) -> None:
    """Fill splits (utterances, hours, speakers), sample rate, size and transcripts by loading the corpus."""
    import soundfile as sf

    from multikd.data.cards import ColumnMap, DataCard, SourceSpec
    from multikd.data.sources import load_source

    folder = Path(plan.source["path"])
    card = DataCard(path=folder / "card.md", name=slug(folder.name), pretty_name=plan.pretty_name, license=None,
                    license_name=None, languages=["und"], script=None, source=SourceSpec(**plan.source),
                    columns=ColumnMap(**plan.columns), sample_rate=None, splits={}, recording_conditions=None,
                    consent=None, personal_data=None)
    rates, total = set(), 0
    for split in splits:
        ds = load_source(card, split)
        seconds = 0.0
        for a in ds["audio"]:
            try:
                info = sf.info(a["path"])
            except (RuntimeError, TypeError) as e:  # unreadable files are prepare's to report, by reason
                log.warning("cannot read %s (%s); prepare will report it", a["path"], e)
                continue
            rates.add(int(info.samplerate))
            seconds += info.duration
        speakers = len(set(ds["speaker"])) if plan.columns.get("speaker") else 1
        plan.splits[split or "train"] = {"hours": round(seconds / 3600, 3), "speakers": speakers,
                                         "utterances": len(ds)}
        plan.texts += [t for t in ds["text"] if t.strip()][:8] if split != plan.test_split else []
        total += len(ds)
    plan.sample_rate = sorted(rates)[0] if len(rates) == 1 else sorted(rates) or None
    plan.size = "n<1K" if total < 1000 else "1K<n<10K" if total < 10_000 else "10K<n<100K"
    if plan.source["format"] == "audiofolder" and splits != [None]:
        plan.source["split"] = "train"


# ---------------------------------------------------------------- the files

def _card(lid: LanguageId, g2p: G2PSupport, plan: CorpusPlan, source_path: str | None, licence: str | None,
          command: str) -> str:
    header = {
        "pretty_name": f"{plan.pretty_name} ({lid.name})",
        "language": [lid.iso1 or lid.iso3],
        "license": licence or "",
        "task_categories": ["text-to-speech"],
        "size_categories": [plan.size],
        "multikd": {
            "languages": [lid.iso3], "script": g2p.script,
            "source": {**plan.source, **({"path": source_path} if source_path else {})},
            "columns": plan.columns, "sample_rate": plan.sample_rate, "splits": plan.splits,
            "recording_conditions": "unknown (fill in: who recorded what, where, with which microphones)",
            "consent": "unknown (fill in: did the speakers agree to their voices being used for speech synthesis?)",
            "personal_data": "Voices are biometric data. (fill in: names, ids or other personal data in the files)",
            "synthetic": False,
        },
    }
    text = yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=110)
    text = text.replace("license: ''\n", "# REQUIRED: the corpus' licence as a Hugging Face id (cc-by-4.0, "
                        "cc0-1.0, ...), or `unknown` if nobody\n# knows (then training needs --allow-unlicensed). "
                        "`multikd check` reports this until it is filled in.\nlicense: ''\n")
    return f"""---
# Generated by `{command}`; fill in what says "fill in", then run `multikd check` on this file.
{text}---

# {plan.pretty_name} — {lid.name}

## Summary
Fill in: what the corpus is, who made it and why, and why it suits a voice in {lid.name}.

## Languages
{lid.name} (`{lid.iso3}`, {g2p.script} script).

## Fields
Columns used by multikd: {", ".join(f"`{v}` ({k})" for k, v in plan.columns.items())}.

## Splits
{", ".join(f"`{s}`" for s in plan.splits)}{"" if plan.test_split else
    " — no held-out split: add a `split` column (train/test) before evaluating"}.

## Source
{plan.about}

## Limitations
Fill in: recording quality, speakers, domain of the text, anything a user of the voice should know.
"""


def _lang_toml(lid: LanguageId, g2p: G2PSupport, command: str) -> str:
    def q(v):
        return json.dumps(v, ensure_ascii=False)

    lines = [f"# {lid.name}: generated by `{command}` from what espeak-ng and epitran offer on this machine.",
             "# Check every value (CONTRIBUTING.md, \"Adding a language\"), then: multikd check lexicons/"
             f"{lid.iso3}-{g2p.script}",
             "[language]", f"iso639_3 = {q(lid.iso3)}", f"name = {q(lid.name)}", f"script = {q(g2p.script)}",
             f"aliases = {q([lid.iso1] if lid.iso1 else [])}", "", "[g2p]",
             "# Tried word by word, first success wins; put \"lexicon\" first once lexicon.tsv has entries.",
             f"order = {q(g2p.order)}"]
    if g2p.espeak_voice:
        other = f"; other voices: {', '.join(g2p.other_espeak)}" if g2p.other_espeak else ""
        lines.append(f"espeak_voice = {q(g2p.espeak_voice)}  # espeak-ng --voices{other}")
    if g2p.epitran_code:
        other = f"; other maps: {', '.join(g2p.other_epitran)}" if g2p.other_epitran else ""
        lines.append(f"epitran_code = {q(g2p.epitran_code)}  # epitran's data/map{other}")
    if g2p.num2words:
        lines.append(f"num2words = {q(g2p.num2words)}  # numbers are spelled out by num2words")
    lines += ['decimal_separator = "."  # check: many languages write 3,5', "", "[text]", "lowercase = true",
              'notes = "fill in: spelling conventions and why this G2P order"', "", "[source]",
              "# REQUIRED: the licence of sentences.txt and lexicon.tsv (\"CC0-1.0\" if you wrote them yourself).",
              'licence = ""',
              'source = "settings generated by multikd new-language; sentences.txt: fill in where they come from"', ""]
    return "\n".join(lines)


def _sentences(lines: list[str], origin: str, what: str) -> str:
    head = (f"# {what}: one per line; `#` starts a comment.\n"
            "# REPLACE the lines below with 5-20 sentences of your own (or openly licensed) that use the\n"
            "# language's letters, numbers and punctuation. The lines below are placeholders:\n"
            f"# {origin}.\n")
    return head + "".join(f"{t}\n" for t in lines)


def _recipe(lid: LanguageId, name: str, card: str, teacher_languages: list[str], command: str) -> str:
    return f"""# A {lid.name} ({lid.iso3}) student from the demo teacher. Generated by `{command}`.
# Commands, in order, with what each writes: README.md next to this file.
name: {name}
data:
  card: {card}
  split: train
  languages: [{lid.iso3}]
  seed: 0                                      # the --minutes subset is drawn with this seed
  prepared: [../../out/{lid.iso3}/prepared/train]   # written by the first `multikd prepare` of README.md
audio:
  sample_rate: 22050                           # the teacher's rate: every corpus is resampled to it
model:
  preset: small                                # 96 wide, 3+3 layers (12x fewer parameters than the teacher)
  overrides: {{}}
train:
  batch_frames: 4000
  lr: 5.0e-4                                   # lower than a teacher's: the init already knows speech
  warmup_steps: 100
  schedule: noam
  max_steps: 2000
  max_minutes: 60                              # a wall-clock cap for a CPU; remove it on a GPU
  clip: 1.0
  mixed_precision: auto
  save_every: 250
  keep_last: 2
  sample_every: 0
  seed: 0
  num_workers: 0
distill:
  teacher: {TEACHER}
  mode: distill                                # the README runs distill, finetune and scratch (--mode)
  weights: {{gt: 1.0, seq_kd: 1.0, soft: 0.5, feat: 0.1, domain: 0.0}}
  temperature: 2.0
  # Teacher languages the new language's embedding starts from (the demo teacher speaks
  # {", ".join(teacher_languages) or "see its config.json"}); empty = weighted by how much of the
  # new language's phone inventory each shares (the teacher's inventories.json).
  init_languages: []
  init_speakers: []                            # empty: the teacher speakers nearest in mean log-F0
  # {lid.name} sentences WITHOUT recordings, one per line (the teacher reads them for the student);
  # never the test sentences. null: distil from the recordings only.
  text_file: null
  confidence_threshold: 0.3
  adapt_steps: 300                             # fine-tune the teacher on your data before distilling from it
"""


def _readme(lid: LanguageId, iso_dir: str, card: str, lexicon: str, plan: CorpusPlan, commands: list[str],
            command: str, licence_set: bool) -> str:
    test_note = "" if plan.test_split else (
        "\n**This corpus has no held-out split yet**: the test `prepare` below would read training recordings. "
        "Add a `split` column (train/test) to its metadata, or train/ and test/ sub-folders, first.\n")
    unlicensed = "" if licence_set else "; fill in its `license` first"
    hub = "" if plan.local else (
        "\n`prepare` downloads the corpus from the Hugging Face hub (without hub access, see the card's Source "
        "section for a local copy).\n")
    m = MINUTES
    return f"""# {iso_dir}: a {lid.name} student

Generated by `{command}`. {lid.name} (`{lid.iso3}`) from **{plan.pretty_name}** (card `{card}`{unlicensed});
front end `{lexicon}`; teacher `pretrained/demo-teacher`; student preset `small`.
`test_sentences.txt` holds placeholder sentences: replace them with your own before the first commit.
{hub}{test_note}
## Commands (from the repository root, in order)

```bash
{chr(10).join(commands)}
```

`check` validates the recipe, the card and its licence, the lexicon, the G2P coverage of the test sentences
and of the corpus text, and lists the phones the teacher never heard with their nearest teacher phones.
`--minutes {m}` trains every mode on the same seeded {m}-minute subset (all of it when there is less); the
three modes share data, steps and seed, so their rows below compare like with like. On a CPU each run
stops at `train.max_minutes`. The evaluation report is `out/{lid.iso3}/eval/index.html`; the last command
speaks the test sentences with the distilled student.

## Results

No results yet. Add one row per system and run: the date, `git rev-parse --short HEAD`, the versions
(`multikd --version`; `python -c "import torch, transformers; print(torch.__version__, transformers.__version__)"`),
the device, minutes of target data, optimizer steps, and the numbers `multikd bench distill` prints.

{RESULTS_HEADER}
"""


@dataclass
class ScaffoldResult:
    written: list[Path]
    reused_lexicon: Path | None
    warnings: list[str]
    commands: list[str]


def _rel(path: Path, start: Path) -> str:
    return os.path.relpath(path, start).replace(os.sep, "/")


def _card_path(folder: Path, root: Path) -> str:
    """How a card refers to a local folder: via $MULTIKD_DATA, relative inside the root, else absolute."""
    data = os.environ.get("MULTIKD_DATA")
    if data and folder.is_relative_to(Path(data).expanduser().absolute()):
        return "$MULTIKD_DATA/" + _rel(folder, Path(data).expanduser().absolute())
    return _rel(folder, root / "data_cards") if folder.is_relative_to(root) else str(folder)


def new_language(code: str, plan: CorpusPlan, *, root: Path, name: str | None = None, script: str | None = None,
                 licence: str | None = None, force: bool = False,
                 command: str = "multikd new-language") -> ScaffoldResult:
    """Write the recipe, card, test sentences and (when the language is new) lexicon folder under ``root``.

    Nothing is written when a file exists and ``force`` is false (:class:`ConfigError` naming the file).
    """
    from multikd.text.languages import parse_lang_toml

    root = Path(root).absolute()
    lid = identify_language(code, root)
    if name:
        lid = LanguageId(lid.iso3, lid.iso1, name, lid.lang_toml)
    warnings: list[str] = []
    if lid.lang_toml:  # the language exists: its settings are the contract, not what the backends offer
        known = parse_lang_toml(lid.lang_toml)
        g2p = G2PSupport(known.script, known.espeak_voice, known.epitran_code, known.num2words)
        lex_dir, seeds = lid.lang_toml.parent, known.sentences()[:6]
        origin = f"copied from {lex_dir.name}/sentences.txt"
        if script and script != known.script:
            warnings.append(f"--script {script} ignored: {lid.iso3} exists, written in {known.script} "
                            f"({lid.lang_toml})")
    else:
        g2p = g2p_support(lid, script)
        lex_dir = root / "lexicons" / f"{lid.iso3}-{g2p.script}"
        seeds, origin = [], ""
        warnings += g2p.notes
    readable_digits = g2p.num2words or g2p.espeak_voice
    if not seeds and plan.texts:
        seeds, origin = plan.texts[:5], "the first transcripts of your corpus"
    elif not seeds and readable_digits:
        seeds, origin = [PLACEHOLDER_NUMBERS], "numbers, which the G2P backends read in any language they know"
    iso_dir, card_name, run_name = lid.iso3, f"{lid.iso3}_{plan.slug}", f"{lid.iso3}-{plan.slug}"
    recipe_dir, card_file = root / "recipes" / iso_dir, root / "data_cards" / f"{card_name}.md"
    teacher_cfg = root / "pretrained" / "demo-teacher" / "config.json"
    teacher_langs = json.loads(teacher_cfg.read_text())["language_names"] if teacher_cfg.is_file() else []
    source_path = _card_path(Path(plan.source["path"]), root) if plan.local else None
    commands = next_commands(lid.iso3, iso_dir, run_name, _rel(card_file, root), f"out/{lid.iso3}",
                             plan.test_split or "test")
    lexicon = _rel(lex_dir, root) if lex_dir.is_relative_to(root) else str(lex_dir)
    placeholder_origin = origin or "none could be made here: write them"
    files = {
        recipe_dir / "recipe.yaml": _recipe(lid, run_name, f"../../data_cards/{card_name}.md", teacher_langs, command),
        recipe_dir / "README.md": _readme(lid, iso_dir, _rel(card_file, root), lexicon, plan, commands, command,
                                          bool(licence)),
        recipe_dir / "test_sentences.txt": _sentences(seeds, placeholder_origin, f"{lid.name} test sentences"),
        card_file: _card(lid, g2p, plan, source_path, licence, command),
    }
    if not lid.lang_toml:
        files[lex_dir / "lang.toml"] = _lang_toml(lid, g2p, command)
        files[lex_dir / "sentences.txt"] = _sentences(seeds, placeholder_origin,
                                                      f"{lid.name} sentences that `multikd check` transcribes")
        if g2p.order == ["lexicon"]:
            files[lex_dir / "lexicon.tsv"] = ("# word<TAB>space-separated IPA phones, one entry per line; words as "
                                              "the front end sees them (NFC, lowercase)\n")
            warnings.append(f"neither espeak-ng nor epitran knows {lid.iso3}: a lexicon is required — fill "
                            f"{_rel(lex_dir / 'lexicon.tsv', root)} with every word of your transcripts")
    # --force replaces the recipe and card, never a lexicon folder's files (language knowledge others share).
    existing = [p for p in files if p.exists() and (not force or p.is_relative_to(lex_dir))]
    if existing:
        raise ConfigError(f"{_rel(existing[0], root)} already exists", where=str(existing[0]),
                          fix="pass --force to overwrite the recipe and card, or remove the file")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        log.debug("wrote %s", path)
    if not plan.local:
        warnings.append("the corpus is on the Hugging Face hub: `multikd check` cannot read its transcripts here; "
                        "`prepare` downloads it")
    elif not plan.test_split:
        warnings.append("the corpus has no held-out split: add a `split` column (train/test) to its metadata "
                        "before preparing a test set")
    if not seeds:
        warnings.append(f"write {lid.name} sentences into {_rel(recipe_dir / 'test_sentences.txt', root)}"
                        + ("" if lid.lang_toml else f" and {_rel(lex_dir / 'sentences.txt', root)}"))
    if not lid.lang_toml and not _on_search_path(lex_dir.parent):
        commands = [f"export MULTIKD_LEXICONS={lex_dir.parent}   # so the front end finds the new language"] + commands
    return ScaffoldResult(list(files), None if not lid.lang_toml else lex_dir, warnings, commands)


def _on_search_path(folder: Path) -> bool:
    from multikd.text.languages import search_path

    return any(folder.resolve() == p.resolve() for p in search_path())


def next_commands(iso: str, recipe_dir: str, run_name: str, card: str, out: str, test_split: str = "test") -> list[str]:
    """The commands from a scaffolded recipe to an evaluation report, each runnable from the repository root.

    The corpus is prepared from its card: `prepare` reads recipes without a ``distill:`` section only.
    """
    m, runs, recipe = MINUTES, f"runs/{run_name}", f"recipes/{recipe_dir}/recipe.yaml"
    systems = " ".join(f"{mode}-{m}min={runs}/{mode}-{m}min/model" for mode in MODES)
    systems += f" teacher-adapted={runs}/distill-{m}min/teacher-adapted/model"
    return [f"multikd check recipes/{recipe_dir}",
            f"multikd prepare {card} --split train --out {out}/prepared/train",
            f"multikd prepare {card} --split {test_split} --out {out}/prepared/test",
            *(f"multikd distill {recipe} --mode {mode:<8} --minutes {m}" for mode in MODES),
            f"multikd bench distill --recipe {recipe} --minutes {m} --test {out}/prepared/test",
            f"multikd evaluate --systems {systems} --lang {iso} --test {out}/prepared/test -o {out}/eval",
            f"grep -v '^#' recipes/{recipe_dir}/test_sentences.txt | xargs -d '\\n' multikd synthesize "
            f"--model {runs}/distill-{m}min/model --lang {iso} -o {out}/test_sentences.wav"]
