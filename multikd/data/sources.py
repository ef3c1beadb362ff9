"""Corpus formats: a card's ``source`` + ``columns`` → a ``datasets.Dataset`` with canonical columns.

Canonical columns, first in every loaded dataset:

- ``id`` (str, unique): the corpus' id column, else the audio file's stem, else ``<card>_<row>``;
  duplicates get ``_2``, ``_3`` … suffixes (FLEURS, for one, reuses a sentence id across speakers).
- ``audio``: ``datasets.Audio(decode=False)``: dicts with ``path`` and/or ``bytes`` (prefer ``bytes`` when
  set: hub and ``save_to_disk`` copies carry the bytes and only a bare file name as ``path``). Nothing is
  decoded inside ``datasets`` (that needs torchcodec); the audio stage reads files with soundfile.
- ``text`` (str): the transcript; a missing one becomes ``""`` and the row is *kept*, so the preparer can
  count it as rejected (kept + rejected = total, by reason).
- ``speaker`` (str): the corpus' speaker column; empty or absent → the card's name (one speaker).
- ``language`` (str): the language column, else the card's single ISO 639-3 language.

Other corpus columns pass through unchanged (the demo corpus' ``split`` and ``ref_alignment``); one whose
name clashes with a canonical column is kept as ``source_<name>``. Each format is a reader registered with
:func:`register_format`; its ``required``/``optional`` source keys are what card validation checks.
Local paths are relative to the card's folder (or ``base_dir``) and may contain ``~``, ``$VARS`` and a
``{split}`` placeholder.
"""
from __future__ import annotations

import csv
import glob
import json
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from multikd.errors import CorpusError

if TYPE_CHECKING:  # datasets is imported inside functions so `multikd check` stays fast
    import datasets

    from multikd.data.cards import DataCard

log = logging.getLogger(__name__)

CANONICAL = ("id", "audio", "text", "speaker", "language")
_LOCAL_COPY_FIX = (
    "on a machine that can reach the hub, run `datasets.load_dataset(...)` and `.save_to_disk(DIR)`, copy DIR "
    "here and use `source: {format: hf_disk, path: DIR}` in a copy of this card; or export an AudioFolder "
    "(audio files + metadata.jsonl) and use `format: audiofolder`")


@dataclass(frozen=True)
class CorpusFormat:
    """A registered corpus format: ``read(card, split, base_dir)`` returns the corpus' own columns, with the
    audio column either an ``Audio`` feature or absolute file paths."""

    name: str
    read: Callable[["DataCard", "str | None", Path], "datasets.Dataset"]
    required: tuple[str, ...]
    optional: tuple[str, ...]
    doc: str


_FORMATS: dict[str, CorpusFormat] = {}


def register_format(name: str, *, required: tuple[str, ...] = ("path",), optional: tuple[str, ...] = ("split",),
                    doc: str = ""):
    """Decorator registering ``read(card, split, base_dir) -> datasets.Dataset`` as corpus format ``name``."""

    def deco(fn):
        _FORMATS[name] = CorpusFormat(name, fn, tuple(required), tuple(optional),
                                      doc or (fn.__doc__ or name).strip().splitlines()[0])
        return fn

    return deco


def formats() -> dict[str, CorpusFormat]:
    return dict(_FORMATS)


def load_source(card: "DataCard", split: str | None = None, base_dir: str | Path | None = None) -> "datasets.Dataset":
    """Load the corpus a card describes, one split (``split``, else the card's ``source.split``)."""
    fmt = _FORMATS.get(card.source.format)
    if fmt is None:
        raise CorpusError(f"card '{card.name}': unknown source.format {card.source.format!r}",
                          where=card.where("multikd.source.format"), fix=f"use one of: {', '.join(sorted(_FORMATS))}")
    split = split or card.source.split
    raw = fmt.read(card, split, Path(base_dir) if base_dir else card.path.parent)
    if len(raw) == 0:
        raise CorpusError(f"card '{card.name}': the corpus has no rows (split {split!r})",
                          where=card.where("multikd.source"), fix="check source.path / the split name")
    ds = _canonicalize(raw, card)
    log.info("loaded %d rows from card %s (format %s, split %s)", len(ds), card.name, fmt.name, split or "-")
    return ds


# ---------------------------------------------------------------- canonical columns

def _canonicalize(ds: "datasets.Dataset", card: "DataCard") -> "datasets.Dataset":
    import datasets

    roles = {r: getattr(card.columns, r) for r in ("audio", "text", "speaker", "language", "id", "duration")
             if getattr(card.columns, r)}
    for role, col in roles.items():
        if col not in ds.column_names:
            raise CorpusError(f"card '{card.name}': column '{col}' (columns.{role}) is not in the corpus; "
                              f"its columns are: {', '.join(ds.column_names)}",
                              where=card.where(f"multikd.columns.{role}"),
                              fix=f"set columns.{role} to one of the corpus' columns")
    audio = roles["audio"]
    feat = ds.features[audio]
    if not (isinstance(feat, datasets.Audio) or getattr(feat, "dtype", None) in ("string", "large_string")):
        raise CorpusError(f"card '{card.name}': column '{audio}' holds {feat}, not audio or file paths",
                          where=card.where("multikd.columns.audio"), fix="name the audio column")
    # Cast before anything reads rows: an Audio(decode=True) column would be decoded on access.
    ds = ds.cast_column(audio, datasets.Audio(decode=False))
    n = len(ds)
    paths = _audio_paths(ds, audio)
    values = {role: _values(ds, col) for role, col in roles.items() if role != "audio"}

    derived = [Path(p).stem if p else f"{card.name}_{i:06d}" for i, p in enumerate(paths)]
    ids = [str(v) if v not in (None, "") else derived[i] for i, v in enumerate(values.get("id", [None] * n))]
    texts = ["" if v is None else str(v) for v in values["text"]]
    speakers = ["" if v is None else str(v) for v in values.get("speaker", [None] * n)]
    speakers = [s if s.strip() else card.name for s in speakers]
    default_lang = card.languages[0] if len(card.languages) == 1 else ""
    langs = ["" if v is None else str(v) for v in values.get("language", [None] * n)]
    langs = [x if x.strip() else default_lang for x in langs]
    _report(card, ids, texts, langs)

    mapped = set(roles.values())
    reserved = CANONICAL + (("duration",) if "duration" in roles else ())
    clashes = [c for c in ds.column_names if c not in mapped and c in reserved]
    ds = ds.rename_columns({c: f"source_{c}" for c in clashes})
    ds = ds.remove_columns(list(dict.fromkeys(c for c in roles.values() if c != audio)))
    if audio != "audio":
        ds = ds.rename_column(audio, "audio")
    new = {"id": _unique(ids, card), "text": texts, "speaker": speakers, "language": langs}
    if "duration" in values:
        new["duration"] = [None if v is None else float(v) for v in values["duration"]]
    for name, column in new.items():
        ds = ds.add_column(name, column)
    rest = [c for c in ds.column_names if c not in CANONICAL]
    return ds.select_columns(list(CANONICAL) + rest)


def _values(ds: "datasets.Dataset", col: str) -> list:
    """Python values of one (non-audio) column; class labels become their names."""
    import datasets

    vals = ds.select_columns([col]).with_format("arrow")[:][col].to_pylist()
    feat = ds.features[col]
    if isinstance(feat, datasets.ClassLabel):
        vals = [None if v is None or v < 0 else feat.int2str(v) for v in vals]
    return vals


def _audio_paths(ds: "datasets.Dataset", col: str) -> list[str | None]:
    # Only the `path` field: pulling the struct into Python would copy every recording's bytes.
    import pyarrow.compute as pc

    return pc.struct_field(ds.select_columns([col]).with_format("arrow")[:][col], "path").to_pylist()


def _unique(ids: list[str], card: "DataCard") -> list[str]:
    seen: Counter[str] = Counter()
    taken = set(ids)
    out = []
    for i in ids:
        seen[i] += 1
        if seen[i] == 1:
            out.append(i)
            continue
        k = seen[i]
        while f"{i}_{k}" in taken:
            k += 1
        taken.add(f"{i}_{k}")
        out.append(f"{i}_{k}")
    dups = sum(c - 1 for c in seen.values())
    if dups:
        log.warning("card %s: %d rows share an id with an earlier row; suffixed _2, _3 … to keep ids unique",
                    card.name, dups)
    return out


def _report(card: "DataCard", ids: list[str], texts: list[str], langs: list[str]) -> None:
    empty = sum(1 for t in texts if not t.strip())
    if empty:
        log.info("card %s: %d of %d rows have no transcript; kept with text='' for the preparer to count",
                 card.name, empty, len(texts))
    other = Counter(x for x in langs if x not in card.languages)
    if other:
        log.warning("card %s: language values not in multikd.languages %s: %s", card.name, card.languages,
                    dict(other.most_common(5)))


# ---------------------------------------------------------------- local paths and tables

def _local_path(card: "DataCard", base: Path, split: str | None) -> Path:
    raw = os.path.expanduser(os.path.expandvars((card.source.path or "").replace("{split}", split or "train")))
    if "$" in raw:
        raise CorpusError(f"card '{card.name}': source.path uses an unset environment variable: {raw}",
                          where=card.where("multikd.source.path"),
                          fix="set it (e.g. `export MULTIKD_DATA=/data/corpora`) or give a path in the card")
    path = Path(raw)
    return path if path.is_absolute() else base / path


def _must_exist(card: "DataCard", path: Path, what: str) -> Path:
    if not path.exists():
        fix = card.obtain.strip().splitlines()[0] if card.obtain else "check source.path (relative to the card)"
        raise CorpusError(f"card '{card.name}': {what} not found: {path}", where=card.where("multikd.source.path"),
                          fix=fix)
    return path


def _from_rows(rows: list[dict]) -> "datasets.Dataset":
    import datasets

    keys = list(dict.fromkeys(k for r in rows for k in r))
    return datasets.Dataset.from_dict({k: [r.get(k) for r in rows] for k in keys})


def _check_files(card: "DataCard", paths: list[str]) -> None:
    missing = [p for p in paths if p and not os.path.exists(p)]
    if paths and len(missing) == len(paths):
        raise CorpusError(f"card '{card.name}': none of the {len(paths)} audio files exist, e.g. {missing[0]}",
                          where=card.where("multikd.source.path"), fix="check source.path (and source.audio_dir)")
    if missing:
        log.warning("card %s: %d of %d audio files are missing (e.g. %s); the rows are kept and the audio "
                    "stage reports them", card.name, len(missing), len(paths), missing[0])


# ---------------------------------------------------------------- formats

@register_format("hf", required=("id",), optional=("config", "split", "revision", "data_dir"),
                 doc="hub dataset: source.id (+ config, revision, data_dir)")
def _read_hub(card: "DataCard", split: str | None, base: Path) -> "datasets.Dataset":
    """A Hugging Face hub dataset (data files only: remote code is never run)."""
    import datasets

    src = card.source
    extra = {k: v for k, v in (("revision", src.revision), ("data_dir", src.data_dir)) if v}
    try:
        return datasets.load_dataset(src.id, src.config, split=split or "train", **extra)
    except Exception as e:  # classified below; anything unrecognised is a bug and keeps its traceback
        for matches, what, fix in _HUB_FAILURES:
            if matches(e):
                raise CorpusError(f"card '{card.name}': {what.format(id=src.id, e=e)}",
                                  where=card.where("multikd.source.id"), fix=fix) from e
        raise


def _is_network_error(e: Exception) -> bool:
    names = ("Connect", "Timeout", "Offline", "LocalEntryNotFound")
    return isinstance(e, (ConnectionError, TimeoutError)) or any(n in type(e).__name__ for n in names)


def _is_not_found(e: Exception) -> bool:
    return type(e).__name__ in ("DatasetNotFoundError", "RepositoryNotFoundError", "GatedRepoError")


# (predicate, message, fix), tried in order: "not found" errors are OSErrors too, so they come first.
_HUB_FAILURES: list[tuple[Callable[[Exception], bool], str, str]] = [
    (_is_not_found, "the hub has no dataset '{id}', or it is gated ({e})",
     "check source.id; for a gated dataset accept its terms on the hub and run `hf auth login`; or "
     + _LOCAL_COPY_FIX),
    (_is_network_error, "the Hugging Face hub is unreachable, so '{id}' cannot be downloaded ({e})", _LOCAL_COPY_FIX),
    (lambda e: isinstance(e, RuntimeError) and "scripts are no longer supported" in str(e),
     "'{id}' is a script-based dataset, which datasets >= 4 no longer runs ({e})",
     "use the hub's parquet export: `revision: refs/convert/parquet` and `data_dir: <config>` (as in "
     "data_cards/fleurs_ca.md), or a local copy"),
    (lambda e: isinstance(e, ValueError), "the hub rejected the config or split of '{id}' ({e})",
     "check source.config / the split name against the dataset's page"),
]


@register_format("hf_disk", doc="source.path: a folder written by Dataset(Dict).save_to_disk")
def _read_disk(card: "DataCard", split: str | None, base: Path) -> "datasets.Dataset":
    """A dataset saved with ``save_to_disk`` (a Dataset, or a DatasetDict of splits)."""
    import datasets

    path = _must_exist(card, _local_path(card, base, split), "saved dataset folder")
    try:
        obj = datasets.load_from_disk(str(path))
    except FileNotFoundError as e:
        raise CorpusError(f"card '{card.name}': {path} is not a save_to_disk folder ({e})",
                          where=card.where("multikd.source.path"), fix="point source.path at the saved folder") from e
    if isinstance(obj, datasets.DatasetDict):
        want = split or "train"
        if want not in obj:
            raise CorpusError(f"card '{card.name}': split '{want}' not in {path}; it has: {', '.join(obj)}",
                              where=card.where("multikd.source"), fix="ask for one of those splits")
        obj = obj[want]
    return obj


@register_format("audiofolder", doc="source.path: a folder of audio files with metadata.jsonl or metadata.csv")
def _read_audiofolder(card: "DataCard", split: str | None, base: Path) -> "datasets.Dataset":
    """An AudioFolder: ``metadata.jsonl``/``metadata.csv`` rows with ``file_name`` (relative to the metadata
    file) become the ``audio`` column. A ``<split>/`` sub-folder, else a ``split`` column, selects the split."""
    root = _must_exist(card, _local_path(card, base, split), "AudioFolder")
    scan = root / split if split and (root / split).is_dir() else root
    metas = sorted([*scan.rglob("metadata.jsonl"), *scan.rglob("metadata.csv")])
    if not metas:
        raise CorpusError(f"card '{card.name}': no metadata.jsonl or metadata.csv under {scan}",
                          where=card.where("multikd.source.path"),
                          fix="write one row per recording with `file_name` and the transcript column")
    rows = [row for m in metas for row in _metadata_rows(m)]
    if split and scan == root and any("split" in r for r in rows):
        present = sorted({str(r.get("split")) for r in rows})
        rows = [r for r in rows if r.get("split") == split]
        if not rows:
            raise CorpusError(f"card '{card.name}': no rows with split '{split}'; the corpus has: {', '.join(present)}",
                              where=card.where("multikd.source"), fix="ask for one of those splits")
    _check_files(card, [r["audio"] for r in rows])
    return _from_rows(rows)


def _metadata_rows(meta: Path) -> list[dict]:
    rows = []
    with open(meta, encoding="utf-8", newline="") as f:
        if meta.suffix == ".jsonl":
            numbered = []
            for lineno, line in enumerate(f, 1):
                if line.strip():
                    try:
                        numbered.append((lineno, json.loads(line)))
                    except json.JSONDecodeError as e:
                        raise CorpusError(f"malformed JSON: {e}", where=f"{meta}:{lineno}",
                                          fix="one JSON object per line") from e
        else:
            numbered = [(i + 2, r) for i, r in enumerate(csv.DictReader(f))]
    for lineno, row in numbered:
        name = row.pop("file_name", None)
        if not name:
            raise CorpusError("metadata row without `file_name`", where=f"{meta}:{lineno}",
                              fix="give each row the audio file's path relative to the metadata file")
        rows.append({"audio": str((meta.parent / name).absolute()), **row})
    return rows


@register_format("ljspeech", doc="source.path: a folder with metadata.csv (id|text|normalized) and wavs/")
def _read_ljspeech(card: "DataCard", split: str | None, base: Path) -> "datasets.Dataset":
    """LJSpeech layout: ``metadata.csv`` lines ``id|text|normalized_text`` and ``wavs/<id>.wav``."""
    root = _must_exist(card, _local_path(card, base, split), "LJSpeech folder")
    meta = root if root.is_file() else _must_exist(card, root / "metadata.csv", "metadata.csv")
    rows = []
    with open(meta, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\r\n").split("|", 2)
            if not parts[0].strip():
                continue
            parts += [""] * (3 - len(parts))  # a line with no transcript is kept, with empty text
            rows.append({"id": parts[0], "audio": str((meta.parent / "wavs" / f"{parts[0]}.wav").absolute()),
                         "text": parts[1], "normalized_text": parts[2]})
    _check_files(card, [r["audio"] for r in rows])
    return _from_rows(rows)


@register_format("csv", optional=("split", "delimiter", "audio_dir"),
                 doc="source.path: CSV/TSV file(s) with a header row (glob and {split} allowed)")
def _read_csv(card: "DataCard", split: str | None, base: Path) -> "datasets.Dataset":
    """Delimited table(s) with a header: one row per recording, audio paths relative to ``audio_dir``
    (itself relative to the table) or to the table's folder. Tabs are read without quoting, as
    Common Voice writes them."""
    pattern = _local_path(card, base, split)
    is_glob = any(ch in str(pattern) for ch in "*?[")
    files = sorted(Path(p) for p in glob.glob(str(pattern))) if is_glob else [pattern]
    files = [_must_exist(card, p, "table") for p in files] if files else [_must_exist(card, pattern, "table")]
    audio_col, rows = card.columns.audio, []
    for table in files:
        delim = card.source.delimiter or ("\t" if table.suffix.lower() in (".tsv", ".tab") else ",")
        delim = {"\\t": "\t", "tab": "\t"}.get(delim, delim)
        audio_dir = table.parent / os.path.expanduser(card.source.audio_dir or ".")
        with open(table, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f, delimiter=delim, quoting=csv.QUOTE_NONE if delim == "\t" else csv.QUOTE_MINIMAL)
            if audio_col not in (reader.fieldnames or []):
                raise CorpusError(f"card '{card.name}': column '{audio_col}' (columns.audio) is not in {table}; "
                                  f"its columns are: {', '.join(reader.fieldnames or [])}",
                                  where=card.where("multikd.columns.audio"), fix="set columns.audio to one of them")
            for row in reader:
                row.pop(None, None)  # cells beyond the header
                name = row.get(audio_col) or ""
                row[audio_col] = str((audio_dir / name).absolute()) if name else None
                rows.append(row)
    _check_files(card, [r[audio_col] for r in rows if r[audio_col]])
    return _from_rows(rows)


_FESTVOX_LINE = re.compile(r'^\(\s*(\S+)\s+"((?:[^"\\]|\\.)*)"\s*(\S*)\s*\)\s*$')


@register_format("festvox", doc="source.path: a folder with etc/txt.done.data and wav/<id>.wav")
def _read_festvox(card: "DataCard", split: str | None, base: Path) -> "datasets.Dataset":
    """Festvox layout (CMU Arctic, CMU Wilderness ``aligned/``): ``etc/txt.done.data`` lines
    ``( id "text" [score] )`` and ``wav/<id>.wav``; the optional score is kept as column ``score``."""
    root = _must_exist(card, _local_path(card, base, split), "festvox folder")
    data = root if root.is_file() else _must_exist(card, root / "etc" / "txt.done.data", "etc/txt.done.data")
    wav_dir = data.parent.parent / "wav"
    rows = []
    with open(data, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            m = _FESTVOX_LINE.match(line.strip())
            if m is None:
                raise CorpusError("not a festvox prompt line", where=f"{data}:{lineno}",
                                  fix='write `( utt_id "transcript" )`, optionally with a score before `)`')
            uid, text, score = m.groups()
            try:
                value = float(score) if score else None
            except ValueError:
                value = None
            rows.append({"id": uid, "audio": str((wav_dir / f"{uid}.wav").absolute()),
                         "text": re.sub(r"\\(.)", r"\1", text), "score": value})
    _check_files(card, [r["audio"] for r in rows])
    return _from_rows(rows)
