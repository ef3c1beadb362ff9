"""Packed prepared corpora: what training reads, in one safetensors file plus JSON, with no ``datasets``.

``multikd pack PREPARED... --out DIR`` turns a folder written by ``multikd prepare`` into a folder that
:func:`multikd.train.data.load_prepared` reads in its place, on a machine that has only torch, numpy and
safetensors (a lent GPU machine, say), and that is small enough to send there::

    packed.safetensors   mel      [N_frames, n_mels] uint8   ln-mel, quantised (below), utterances concatenated
                         mel_scale, mel_offset [1] float32   ln-mel ≈ mel_offset + mel_scale · q
                         f0       [N_frames] float16         Hz, 0 = unvoiced
                         energy   [N_frames] float16         frame energy (linear)
                         offsets  [N_utt + 1] int64          utterance i = frames offsets[i]:offsets[i+1]
    index.json           per utterance: id, phones, language, speaker, split, n_frames, text; packing facts
    config.json  symbols.json  speakers.json                 copied unchanged from the prepared folder

Quantisation. ln-mel is quantised to 256 levels with one global scale and offset: ``offset`` = the
corpus minimum, ``scale`` = (maximum − minimum) / 255. The error of every value is at most ``scale / 2``
(recorded as ``max_abs_error`` in index.json); for the demo teacher corpus the range is about
ln(1e-5) = −11.5 to +3, so the step is ≈ 0.057 ln units and the error ≤ 0.029 ln units ≈ 0.25 dB, far
under what a TTS model's L1 mel loss reaches (≈ 0.3–0.5). float16 keeps F0 to within 0.05 % (0.1 Hz at
200 Hz) and energy to 3 significant digits; ln(energy) is floored at 1e-4 before it is used, which
float16 represents.

Not packed: wav paths, trim offsets, reference alignments and the ``extra`` column — nothing training
reads. A packed folder is for ``train-teacher``; preparation reports stay with the prepared folder.
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np

from multikd.errors import CorpusError

log = logging.getLogger(__name__)

PACKED_FILE = "packed.safetensors"
INDEX_FILE = "index.json"
PACKED_FORMAT = "multikd-packed"
COPIED = ("config.json", "symbols.json", "speakers.json")
INDEX_COLUMNS = ("id", "phones", "language", "speaker", "split", "n_frames", "text")


def is_packed(folder: str | Path) -> bool:
    return (Path(folder) / PACKED_FILE).is_file()


def _pack_one(folder: Path, out_dir: Path, max_megabytes: float | None) -> dict:
    import datasets as hfd

    if not (folder / "dataset").is_dir():
        raise CorpusError("not a prepared corpus (no dataset/ folder)", where=str(folder),
                          fix="run `multikd prepare RECIPE --out DIR` first")
    ds = hfd.load_from_disk(str(folder / "dataset"))
    meta = {c: list(ds[c]) for c in INDEX_COLUMNS if c in ds.column_names}
    n_frames = np.asarray(meta["n_frames"], dtype=np.int64)
    n_mels = len(ds[0]["mel"][0])
    keep = np.ones(len(ds), dtype=bool)
    dropped_frames = 0
    if max_megabytes is not None:
        # Bytes per frame: n_mels (uint8 mel) + 2 + 2 (float16 f0, energy). Drop the longest utterances first:
        # they cost the most frames and the fewest utterances.
        budget = int(max_megabytes * 1e6) // (n_mels + 4)
        order = np.argsort(-n_frames, kind="stable")
        total = int(n_frames.sum())
        for i in order:
            if total <= budget:
                break
            keep[i] = False
            total -= int(n_frames[i])
            dropped_frames += int(n_frames[i])
    rows = np.flatnonzero(keep)
    ds.set_format("numpy", columns=["mel", "f0", "energy"])
    lo, hi = np.inf, -np.inf
    for r in rows:  # pass 1: the global range of ln-mel
        m = ds[int(r)]["mel"]
        lo, hi = min(lo, float(m.min())), max(hi, float(m.max()))
    scale = max((hi - lo) / 255.0, 1e-8)
    total = int(n_frames[rows].sum())
    mel_q = np.empty((total, n_mels), dtype=np.uint8)
    f0 = np.empty(total, dtype=np.float16)
    energy = np.empty(total, dtype=np.float16)
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    pos = 0
    for k, r in enumerate(rows):  # pass 2: quantise and concatenate
        row = ds[int(r)]
        m = np.asarray(row["mel"], dtype=np.float32)
        n = len(m)
        if n != n_frames[r] or len(row["f0"]) != n or len(row["energy"]) != n:
            raise CorpusError(f"utterance {meta['id'][r]}: n_frames {n_frames[r]} but mel/f0/energy have "
                              f"{n}/{len(row['f0'])}/{len(row['energy'])} frames", where=str(folder),
                              fix="prepare the corpus again")
        mel_q[pos:pos + n] = np.clip(np.rint((m - lo) / scale), 0, 255).astype(np.uint8)
        f0[pos:pos + n] = np.asarray(row["f0"], dtype=np.float32)
        energy[pos:pos + n] = np.asarray(row["energy"], dtype=np.float32)
        pos += n
        offsets[k + 1] = pos

    from safetensors.numpy import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    save_file({"mel": mel_q, "mel_scale": np.array([scale], dtype=np.float32),
               "mel_offset": np.array([lo], dtype=np.float32), "f0": f0, "energy": energy, "offsets": offsets},
              str(out_dir / PACKED_FILE), metadata={"format": PACKED_FORMAT})
    for name in COPIED:
        shutil.copyfile(folder / name, out_dir / name)
    hop_s = None
    try:
        a = json.loads((folder / "config.json").read_text(encoding="utf-8"))["audio"]
        hop_s = a["hop_length"] / a["sample_rate"]
    except (OSError, KeyError, ValueError):
        pass
    facts = {
        "format": PACKED_FORMAT, "version": 1, "source": str(folder.resolve()),
        "utterances": int(len(rows)), "frames": total,
        "dropped_utterances": int((~keep).sum()), "dropped_frames": dropped_frames,
        "dropped_minutes": round(dropped_frames * hop_s / 60, 2) if hop_s else None,
        "minutes": round(total * hop_s / 60, 2) if hop_s else None,
        "mel_quantisation": {"levels": 256, "offset": lo, "scale": scale, "max_abs_error": scale / 2},
        "columns": list(meta),
        "utterances_index": [{c: (list(meta[c][r]) if c == "phones" else meta[c][r]) for c in meta} for r in rows],
    }
    for u in facts["utterances_index"]:
        u["n_frames"] = int(u["n_frames"])
    (out_dir / INDEX_FILE).write_text(json.dumps(facts, ensure_ascii=False) + "\n", encoding="utf-8")
    return {k: v for k, v in facts.items() if k != "utterances_index"}


def pack_prepared(folders: list[str | Path], out_dir: str | Path, *, max_megabytes: float | None = None) -> list[dict]:
    """Pack prepared folders (see the module docstring); returns one summary dict per folder.

    One folder is packed into ``out_dir`` itself; several into ``out_dir/<folder name>`` each (list those
    under ``data.prepared``: training merges them exactly as it merges prepared folders).
    ``max_megabytes`` bounds the packed arrays of each folder: its longest utterances are dropped until
    it fits (the summary and index.json say how many and how many minutes).

    Raises:
        CorpusError: a folder that is not a prepared corpus, or two folders of the same name.
    """
    folders = [Path(f) for f in folders]
    out_dir = Path(out_dir)
    names = [f.resolve().name for f in folders]
    if len(set(names)) != len(names):
        raise CorpusError("two prepared folders have the same name", where=", ".join(map(str, folders)),
                          fix="pack them one at a time into different --out folders")
    outs = [out_dir] if len(folders) == 1 else [out_dir / n for n in names]
    summaries = []
    for folder, out in zip(folders, outs):
        s = _pack_one(folder, out, max_megabytes)
        s["out"] = str(out)
        log.info("packed %s → %s: %d utterances (%.1f min), %d dropped (%.1f min); mel step %.4f ln units",
                 folder, out, s["utterances"], s["minutes"] or 0, s["dropped_utterances"],
                 s["dropped_minutes"] or 0, s["mel_quantisation"]["scale"])
        summaries.append(s)
    return summaries


class PackedCorpusPart:
    """A packed folder read back with the few ``datasets.Dataset`` accessors training uses.

    ``part[column]`` is the list of a metadata column (``id``, ``phones``, ``language``, ``speaker``,
    ``split``, ``n_frames``, ``text``); ``part[i]`` is row ``i`` as a dict with numpy ``mel``
    ``[T, n_mels]`` float32 (dequantised), ``f0`` and ``energy`` ``[T]`` float32 and the metadata columns.
    Arrays stay in memory (≈ n_mels bytes per frame: 55 MB for the demo teacher corpus).
    """

    def __init__(self, folder: str | Path):
        from safetensors.numpy import load_file

        self.folder = Path(folder)
        try:
            index = json.loads((self.folder / INDEX_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise CorpusError(f"cannot read the packed corpus index ({e})", where=str(self.folder),
                              fix="pack the prepared folder again with `multikd pack`") from None
        if index.get("format") != PACKED_FORMAT:
            raise CorpusError("not a multikd packed corpus", where=str(self.folder / INDEX_FILE))
        t = load_file(str(self.folder / PACKED_FILE))
        self._mel, self._f0, self._energy, self._offsets = t["mel"], t["f0"], t["energy"], t["offsets"]
        self.scale, self.offset = float(t["mel_scale"][0]), float(t["mel_offset"][0])
        self.max_abs_error = index["mel_quantisation"]["max_abs_error"]
        utts = index["utterances_index"]
        self.column_names = list(index["columns"])
        self._columns = {c: [u[c] for u in utts] for c in self.column_names}
        if len(self._offsets) != len(utts) + 1:
            raise CorpusError("packed arrays and index.json disagree on the number of utterances",
                              where=str(self.folder), fix="pack the prepared folder again")

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, key):
        if isinstance(key, str):
            if key not in self._columns:
                raise KeyError(f"column {key!r} is not packed (columns: {', '.join(self.column_names)})")
            return self._columns[key]
        i = int(key)
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        a, b = int(self._offsets[i]), int(self._offsets[i + 1])
        row = {c: self._columns[c][i] for c in self.column_names}
        row["mel"] = self.offset + self.scale * self._mel[a:b].astype(np.float32)
        row["f0"] = self._f0[a:b].astype(np.float32)
        row["energy"] = self._energy[a:b].astype(np.float32)
        return row
