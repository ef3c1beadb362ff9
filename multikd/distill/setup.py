"""Everything a distillation run builds before its first step: teacher, target data, vocabulary,
the teacher extended to the new language, and the student (initialised from it, or at random)."""
from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from multikd.audio.config import AudioConfig
from multikd.errors import ConfigError, MultikdError
from multikd.text.symbols import SymbolTable
from multikd.train.data import NormStats, PreparedCorpus, TTSDataset, collate, load_prepared

from multikd.distill import newlang
from multikd.distill.init import residual_projection, transfer_weights

log = logging.getLogger(__name__)


@dataclass
class Teacher:
    model: object  # AcousticModel, eval mode, no gradients
    symbols: SymbolTable
    norm: NormStats
    audio: AudioConfig
    path: Path


def load_teacher(path: Path) -> Teacher:
    from multikd.models import AcousticModel

    path = Path(path)
    for f in ("config.json", "symbols.json", "norm.json", "audio.json"):
        if not (path / f).is_file():
            raise ConfigError(f"not an exported teacher model (missing {f})", where=str(path),
                              fix="set distill.teacher to a training run's model/ folder")
    model = AcousticModel.from_pretrained(str(path)).eval().requires_grad_(False)
    audio = AudioConfig.from_dict(json.loads((path / "audio.json").read_text()), where=str(path / "audio.json"))
    return Teacher(model, SymbolTable.load(path / "symbols.json"), NormStats.load(path / "norm.json"), audio, path)


def target_corpus(folders: list[Path], minutes: float | None, seed: int) -> PreparedCorpus:
    """The training split of the target folders; with ``minutes``, the seeded nested subset per language
    (:func:`multikd.data.select.select_rows` semantics applied to the prepared rows)."""
    import datasets as hfd

    from multikd.data.select import select_rows

    corpus = load_prepared(folders)
    if minutes is None:
        return corpus
    table = hfd.Dataset.from_dict({"language": corpus.column("language"), "speaker": corpus.column("speaker"),
                                   "duration": [float(d) for d in corpus.column("duration")]})
    sel = select_rows(table, minutes=minutes, seed=seed)
    log.info("target subset: %d of %d utterances (%.1f minutes)", len(sel.indices), len(corpus), sel.minutes_selected)
    return replace(corpus, rows=[corpus.rows[i] for i in sel.indices])


def read_text_file(path: Path, language: str, limit: int) -> list[tuple[str, list[str]]]:
    """Sentences of a text file (one per line, ``#`` comments) → (text, front-end tokens); lines the front
    end cannot read are skipped with a warning that names the line."""
    from multikd.synthesis import split_sentences
    from multikd.text import get_frontend

    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ConfigError(f"cannot read distill.text_file ({e})", where=str(path)) from None
    frontend, out, skipped = get_frontend(language), [], 0
    for k, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            sentences = split_sentences(frontend.phonemize(text).phones)
        except MultikdError as e:
            log.warning("%s:%d skipped: %s", path, k, e)
            skipped += 1
            continue
        out += [(text, s) for s in sentences]
        if len(out) >= limit:
            break
    if skipped:
        log.warning("%s: %d line(s) skipped (listed above), %d sentence(s) read", path, skipped, min(len(out), limit))
    return out[:limit]


def vocabulary(teacher: Teacher, corpus: PreparedCorpus, extra_phones: list[list[str]]):
    """Student symbols (teacher's + new phones appended) and statistics (teacher's languages and speakers
    first, new ones appended; the teacher's energy statistics, so teacher targets stay in their domain).

    Returns:
        (symbols, norm, unseen-phone report rows).
    """
    counts = Counter(p for ph in list(corpus.column("phones")) + extra_phones for p in ph)
    symbols, added = newlang.merge_symbols(teacher.symbols, sorted(counts))
    t = teacher.norm
    langs = t.languages + sorted(set(corpus.column("language")) - set(t.languages))
    speakers = t.speakers + sorted(set(corpus.column("speaker")) - set(t.speakers))
    spk_langs = {k: list(v) for k, v in t.speaker_languages.items()}
    for s, lang in zip(corpus.column("speaker"), corpus.column("language")):
        if lang not in spk_langs.setdefault(s, []):
            spk_langs[s].append(lang)
    pitch = {**{s: corpus.speaker_stats.get(s) for s in speakers}, **{s: st for s, st in t.pitch.items()}}
    norm = NormStats(languages=langs, speakers=speakers, pitch=pitch, energy_log_mean=t.energy_log_mean,
                     energy_log_std=t.energy_log_std, speaker_languages=spk_langs)
    return symbols, norm, newlang.unseen_phone_report(added, counts, teacher.symbols)


def inventories(folders: list[Path], teacher_dir: Path | None = None) -> dict[str, set[str]]:
    """Language → its phone inventory in prepared folders (for overlap weights); with no folders, the
    ``inventories.json`` a teacher export carries (if any)."""
    out: dict[str, set[str]] = {}
    if not folders and teacher_dir is not None and (Path(teacher_dir) / "inventories.json").is_file():
        data = json.loads((Path(teacher_dir) / "inventories.json").read_text(encoding="utf-8"))
        return {k: set(v) for k, v in data.items()}
    for folder in folders:
        for lang, phones in load_prepared([folder]).phone_inventories().items():
            out.setdefault(lang, set()).update(phones)
    return out


def _student_config(section, symbols, norm, n_mels, base=None):
    from multikd.models import AcousticConfig

    common = dict(vocab_size=len(symbols), phone_features=symbols.feature_matrix().tolist(),
                  n_languages=len(norm.languages), n_speakers=len(norm.speakers),
                  language_names=list(norm.languages), speaker_names=list(norm.speakers), n_mels=n_mels)
    if base is not None:  # the extended teacher: the teacher's own shape
        return AcousticConfig(**{**base.to_dict(), **common})
    return AcousticConfig.preset(section.preset, **common, **section.overrides)


def extend_teacher(teacher: Teacher, symbols, norm, unseen: list[dict], corpus: PreparedCorpus, distill,
                   source_inventories: dict[str, set[str]]):
    """The teacher with rows for the new phones, language and speaker (same width: P = identity).

    Returns:
        (model, {"language": {new language: weights}, "speaker": {new speaker: weights}}).
    """
    from multikd.models import AcousticModel

    cfg = _student_config(None, symbols, norm, teacher.model.config.n_mels, base=teacher.model.config)
    torch.manual_seed(0)  # rows that stay random (a phone without neighbours) are the same in every run
    model = AcousticModel(cfg)
    t = teacher
    phone_rows = [t.symbols.id(s) if s in t.symbols else None for s in symbols.symbols]
    lang_rows = [t.norm.languages.index(x) if x in t.norm.languages else None for x in norm.languages]
    spk_rows = [t.norm.speakers.index(x) if x in t.norm.speakers else None for x in norm.speakers]
    transfer_weights(t.model, model, torch.eye(cfg.hidden), phone_rows, lang_rows, spk_rows)
    newlang.fill_rows(model.embed.ids.weight.data, newlang.new_phone_weights(unseen, symbols))
    target_phones = set(p for ph in corpus.column("phones") for p in ph)
    init = {"language": {}, "speaker": {}}
    for i, lang in enumerate(norm.languages):
        if lang_rows[i] is None:
            w = newlang.language_weights(target_phones, t.norm.languages, distill.init_languages, source_inventories)
            init["language"][lang] = w
            newlang.fill_rows(model.condition.language.weight.data, {i: {norm.languages.index(k): v for k, v in w.items()}})
    for i, spk in enumerate(norm.speakers):
        if spk_rows[i] is None:
            w = newlang.speaker_weights(spk, norm.pitch.get(spk), t.norm, distill.init_speakers)
            init["speaker"][spk] = w
            newlang.fill_rows(model.condition.speaker.weight.data, {i: {norm.speakers.index(k): v for k, v in w.items()}})
    return model.eval().requires_grad_(False), init


def make_student(section, extended, symbols, norm, dataset: TTSDataset, mode: str, init_batches: int,
                 batch_size: int, seed: int):
    """The student: random (``scratch``), initialised from the extended teacher (``distill``,
    ``finetune``: the same init), or a trainable copy of the extended teacher itself (``adapt``).
    Returns (student, P or None)."""
    import copy

    from multikd.models import AcousticModel

    if mode == "adapt":
        return copy.deepcopy(extended).train().requires_grad_(True), None
    torch.manual_seed(seed)  # the same random draw underlies every mode's unmapped parts
    student = AcousticModel(_student_config(section, symbols, norm, extended.config.n_mels))
    if mode == "scratch":
        return student, None
    n = min(len(dataset), init_batches * batch_size)
    batches = [collate([dataset[i] for i in range(s, min(s + batch_size, n))]) for s in range(0, n, batch_size)]
    P = residual_projection(extended, batches, student.config.hidden)
    identity = list(range(len(symbols)))
    transfer_weights(extended, student, P, identity, list(range(len(norm.languages))),
                     list(range(len(norm.speakers))))
    return student, P


def zero_shot_teacher(recipe, minutes: float | None, out: Path) -> Path:
    """Export (to ``out/model``) the teacher extended with the new language's initial rows and no target
    training: its zero-shot voice, the point every student run starts from."""
    from multikd.train.loop import export_model

    d = recipe.distill
    teacher = load_teacher(recipe.resolve(d.teacher))
    corpus = target_corpus(recipe.prepared_dirs(), minutes, recipe.data.seed)
    symbols, norm, unseen = vocabulary(teacher, corpus, [])
    model, _ = extend_teacher(teacher, symbols, norm, unseen, corpus, d,
                              inventories([recipe.resolve(p) for p in d.source_prepared], teacher.path))
    return export_model(model, Path(out), symbols, norm, corpus.audio)
