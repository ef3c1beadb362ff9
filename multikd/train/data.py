"""Prepared corpora → padded training batches.

Reads one or more folders written by ``multikd prepare`` (``dataset/``, ``symbols.json``,
``speakers.json``, ``config.json``) or packed by ``multikd pack`` (``packed.safetensors`` + ``index.json``
in place of ``dataset/``; see :mod:`multikd.train.packed`), keeps one split, and gives per utterance::

    phone_ids [T_text] int64 (BOS … EOS)   mel [T_mel, n_mels] ln-mel   pitch [T_mel]   energy [T_mel]
    language_id, speaker_id (int)          id (str)

Pitch is ln(F0) z-scored with the speaker's statistics from speakers.json (0 where unvoiced, which is
also the speaker's mean: a model that ignores voicing predicts the mean). Energy is ln(energy) z-scored
with one global mean/std of the training set. Both statistics are :class:`NormStats`, saved with the
model as ``norm.json`` so synthesis and alignment normalise exactly as training did.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from multikd.audio.config import AudioConfig
from multikd.audio.features import LOG_MEL_FLOOR
from multikd.errors import ConfigError, CorpusError, SymbolTableError
from multikd.text.symbols import PAD, SymbolTable

log = logging.getLogger(__name__)

TRAIN_SPLITS = ("", "train")  # an empty split column means the corpus had no splits: all is training data
# Floor before ln(energy): below the frame norm of digital silence in our STFT (sqrt(513 · 1e-9) ≈ 7e-4),
# so it only guards exact zeros and never flattens real frames.
ENERGY_FLOOR = 1e-4
NORM_FORMAT = "multikd-norm"


@dataclass
class NormStats:
    """What turns raw F0/energy into model targets, and the model's language/speaker inventories."""

    languages: list[str]  # id = position
    speakers: list[str]
    pitch: dict[str, dict | None]  # speaker → {"log_mean", "log_std"} of ln(Hz); None = never voiced
    energy_log_mean: float
    energy_log_std: float
    speaker_languages: dict[str, list[str]] = field(default_factory=dict)  # speaker → languages it speaks

    def normalise_pitch(self, f0: np.ndarray, speaker: str) -> np.ndarray:
        """F0 [T] Hz (0 = unvoiced) → z-scored ln F0 [T], 0 where unvoiced."""
        f0 = np.asarray(f0, dtype=np.float32)
        st = self.pitch.get(speaker)
        if not st:
            return np.zeros_like(f0)
        voiced = f0 > 0
        out = np.zeros_like(f0)
        out[voiced] = (np.log(f0[voiced]) - st["log_mean"]) / max(st["log_std"], 1e-3)
        return out

    def normalise_energy(self, energy: np.ndarray) -> np.ndarray:
        e = np.log(np.maximum(np.asarray(energy, dtype=np.float32), ENERGY_FLOOR))
        return (e - self.energy_log_mean) / max(self.energy_log_std, 1e-3)

    def to_dict(self) -> dict:
        return {"format": NORM_FORMAT, "version": 1, **asdict(self)}

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "NormStats":
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"cannot read normalisation statistics ({e})", where=str(path),
                              fix="a model folder holds the norm.json written by training") from None
        if d.pop("format", None) != NORM_FORMAT:
            raise ConfigError("not a multikd norm.json", where=str(path))
        d.pop("version", None)
        return cls(**d)


def _pool_pitch(stats: list[dict]) -> dict:
    """One speaker's pitch statistics from several prepared folders, weighted by voiced frames."""
    n = np.array([s["n_voiced"] for s in stats], dtype=np.float64)
    m = np.array([s["log_mean"] for s in stats])
    v = np.array([s["log_std"] ** 2 for s in stats])
    mean = float((n * m).sum() / n.sum())
    var = float((n * (v + m ** 2)).sum() / n.sum() - mean ** 2)
    return {"log_mean": mean, "log_std": float(np.sqrt(max(var, 0.0))), "n_voiced": int(n.sum())}


@dataclass
class PreparedCorpus:
    """The utterances of one split of several prepared folders (rows stay on disk, memory-mapped)."""

    folders: list[Path]
    parts: list  # datasets.Dataset per folder, numpy-formatted (or a PackedCorpusPart)
    rows: list[tuple[int, int]]  # (part, row) of every kept utterance
    symbols: SymbolTable  # the folders' tables merged in order: the first folder's ids never move
    speaker_stats: dict[str, dict]  # speaker → pitch statistics pooled over folders
    audio: AudioConfig

    def column(self, name: str) -> list:
        cols = [list(p[name]) for p in self.parts]
        return [cols[p][r] for p, r in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def phone_inventories(self) -> dict[str, set[str]]:
        """Language → the set of phones its utterances use."""
        out: dict[str, set[str]] = {}
        for lang, phones in zip(self.column("language"), self.column("phones")):
            out.setdefault(lang, set()).update(phones)
        return out


def load_prepared(folders: list[str | Path], splits: tuple[str, ...] = TRAIN_SPLITS) -> PreparedCorpus:
    """Open prepared folders and keep the rows of ``splits``.

    Raises:
        CorpusError: a folder that is not a prepared corpus, folders prepared with different audio
            settings, or no utterance in the split.
    """
    from multikd.train.packed import PackedCorpusPart, is_packed

    folders = [Path(f) for f in folders]
    parts, rows, symbols, audio, spk = [], [], SymbolTable(), None, {}
    for k, folder in enumerate(folders):
        packed = is_packed(folder)
        if not packed and not (folder / "dataset").is_dir():
            raise CorpusError("not a prepared corpus (no dataset/ folder, no packed.safetensors)", where=str(folder),
                              fix="run `multikd prepare RECIPE --out DIR` and list DIR under data.prepared")
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        a = AudioConfig.from_dict(cfg.get("audio"), where=str(folder / "config.json"))
        if audio is not None and a != audio:
            raise CorpusError("prepared with other audio settings than the first folder", where=str(folder),
                              fix="prepare every corpus of one model with the same audio section")
        audio = a
        symbols.merge(SymbolTable.load(folder / "symbols.json").phones)
        for name, s in json.loads((folder / "speakers.json").read_text(encoding="utf-8")).items():
            if s.get("pitch"):
                spk.setdefault(name, []).append(s["pitch"])
        if packed:  # `multikd pack` output: same columns and rows, no `datasets` needed
            ds = PackedCorpusPart(folder)
        else:
            import datasets as hfd

            ds = hfd.load_from_disk(str(folder / "dataset"))
            ds.set_format("numpy", columns=["mel", "f0", "energy"], output_all_columns=True)
        parts.append(ds)
        rows += [(k, i) for i, s in enumerate(ds["split"]) if s in splits]
    if not rows:
        raise CorpusError(f"no utterance of split {'/'.join(repr(s) for s in splits)}",
                          where=", ".join(map(str, folders)))
    pooled = {name: _pool_pitch(st) for name, st in spk.items()}
    return PreparedCorpus(folders, parts, rows, symbols, pooled, audio)


def compute_norm(corpus: PreparedCorpus) -> NormStats:
    """Language/speaker inventories (sorted names) and pitch/energy statistics of a training corpus."""
    langs, speakers = corpus.column("language"), corpus.column("speaker")
    spk_langs: dict[str, list[str]] = {}
    for s, lang in zip(speakers, langs):
        spk_langs.setdefault(s, [])
        if lang not in spk_langs[s]:
            spk_langs[s].append(lang)
    # Streaming sums: the energy of hours of speech need not sit in memory at once.
    total, total_sq, n = 0.0, 0.0, 0
    for p, r in corpus.rows:
        e = np.log(np.maximum(np.asarray(corpus.parts[p][r]["energy"], dtype=np.float64), ENERGY_FLOOR))
        total, total_sq, n = total + e.sum(), total_sq + (e ** 2).sum(), n + e.size
    mean = total / n
    return NormStats(languages=sorted(set(langs)), speakers=sorted(set(speakers)),
                     pitch={s: corpus.speaker_stats.get(s) for s in sorted(set(speakers))},
                     energy_log_mean=float(mean), energy_log_std=float(np.sqrt(max(total_sq / n - mean ** 2, 0.0))),
                     speaker_languages=spk_langs)


class TTSDataset(torch.utils.data.Dataset):
    """Tensors of one utterance (see module docstring); every utterance is mapped to ids up front.

    Raises:
        SymbolTableError: an utterance with a phone the table lacks (the error names the utterance).
        ConfigError: a language or speaker that ``norm`` does not know.
    """

    def __init__(self, corpus: PreparedCorpus, symbols: SymbolTable, norm: NormStats):
        self.corpus, self.norm = corpus, norm
        lang_id = {x: i for i, x in enumerate(norm.languages)}
        spk_id = {x: i for i, x in enumerate(norm.speakers)}
        self.phone_ids, self.language_ids, self.speaker_ids = [], [], []
        ids, phones = corpus.column("id"), corpus.column("phones")
        for (p, _), uid, ph, lang, spk in zip(corpus.rows, ids, phones, corpus.column("language"),
                                             corpus.column("speaker")):
            where = f"{corpus.folders[p]}: utterance {uid}"
            try:
                self.phone_ids.append(symbols.encode(list(ph)))
            except SymbolTableError as e:
                raise SymbolTableError(e.what, where=where, fix=e.fix) from None
            if lang not in lang_id or spk not in spk_id:
                raise ConfigError(f"language {lang!r} / speaker {spk!r} is not one the model knows", where=where,
                                  fix=f"languages: {', '.join(norm.languages)}; speakers: {', '.join(norm.speakers)}")
            self.language_ids.append(lang_id[lang])
            self.speaker_ids.append(spk_id[spk])
        self.ids, self.speakers = ids, corpus.column("speaker")
        self.lengths = [int(n) for n in corpus.column("n_frames")]  # mel frames, for the batch sampler

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        p, r = self.corpus.rows[i]
        row = self.corpus.parts[p][r]
        return {
            "id": self.ids[i],
            "phone_ids": torch.tensor(self.phone_ids[i], dtype=torch.long),
            "mel": torch.from_numpy(np.asarray(row["mel"], dtype=np.float32)),  # [T_mel, n_mels]
            "pitch": torch.from_numpy(self.norm.normalise_pitch(row["f0"], self.speakers[i])),
            "energy": torch.from_numpy(self.norm.normalise_energy(row["energy"]).astype(np.float32)),
            "language_id": self.language_ids[i],
            "speaker_id": self.speaker_ids[i],
        }


MODEL_INPUTS = ("phone_ids", "text_lengths", "mels", "mel_lengths", "pitch", "energy", "language_ids",
                "speaker_ids")


def collate(items: list[dict]) -> dict:
    """Pad a list of :class:`TTSDataset` items into a batch.

    Returns:
        ``phone_ids [B, T_text]`` (PAD = 0), ``text_lengths [B]``, ``mels [B, T_mel, n_mels]`` padded with
        ln(1e-5) (silence, so an unmasked consumer sees quiet, not 0 = loud), ``mel_lengths [B]``,
        ``pitch``/``energy [B, T_mel]`` padded with 0, ``language_ids``/``speaker_ids [B]``, ``ids`` (list).
    """
    b = len(items)
    t_text = max(len(x["phone_ids"]) for x in items)
    t_mel = max(len(x["mel"]) for x in items)
    n_mels = items[0]["mel"].shape[1]
    out = {
        "phone_ids": torch.full((b, t_text), PAD, dtype=torch.long),
        "text_lengths": torch.tensor([len(x["phone_ids"]) for x in items], dtype=torch.long),
        "mels": torch.full((b, t_mel, n_mels), float(np.log(LOG_MEL_FLOOR))),
        "mel_lengths": torch.tensor([len(x["mel"]) for x in items], dtype=torch.long),
        "pitch": torch.zeros(b, t_mel),
        "energy": torch.zeros(b, t_mel),
        "language_ids": torch.tensor([x["language_id"] for x in items], dtype=torch.long),
        "speaker_ids": torch.tensor([x["speaker_id"] for x in items], dtype=torch.long),
        "ids": [x["id"] for x in items],
    }
    for i, x in enumerate(items):
        n, m = len(x["phone_ids"]), len(x["mel"])
        out["phone_ids"][i, :n] = x["phone_ids"]
        out["mels"][i, :m] = x["mel"]
        out["pitch"][i, :m] = x["pitch"]
        out["energy"][i, :m] = x["energy"]
    return out
