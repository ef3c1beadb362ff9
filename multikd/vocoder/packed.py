"""Packed vocoder audio: the training wavs of prepared folders in one safetensors file, read without
``datasets``, ``soundfile`` or ``librosa`` (a lent GPU machine has torch, numpy and safetensors only).

``python -m multikd.vocoder.packed PREPARED... --out DIR [--max-megabytes 34]`` writes::

    audio.safetensors   wav        [N_samples] int16     training utterances, concatenated (peak-scaled ×32767)
                        offsets    [N_utt + 1] int64     utterance i = samples offsets[i]:offsets[i+1]
                        mel_basis  [n_mels, F] float32   librosa's Slaney mel filterbank for config.json's audio
    index.json          per utterance: id, speaker, language, n_samples; the packing facts
    config.json         copied from the first prepared folder (its ``audio`` settings are the training ones)

List DIR under ``data.prepared`` of a vocoder recipe in place of the prepared folders
(:class:`multikd.vocoder.train.SegmentDataset` recognises it). With ``--max-megabytes`` the utterances are
chosen per speaker in a seeded random order, each speaker filling an equal share of the budget. int16 is
what the prepared wavs hold (PCM_16), so the packing itself loses nothing.

The mel basis travels because :func:`multikd.audio.features.log_mel` builds it with librosa: where librosa
cannot be imported, :func:`provide_mel_basis` hands the stored matrix to that module for these settings.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path

import numpy as np

from multikd.errors import CorpusError

log = logging.getLogger(__name__)

AUDIO_FILE = "audio.safetensors"
INDEX_FILE = "index.json"
PACKED_AUDIO_FORMAT = "multikd-packed-audio"


def is_packed_audio(folder: str | Path) -> bool:
    return (Path(folder) / AUDIO_FILE).is_file()


def pack_audio(folders: list[str | Path], out_dir: str | Path, max_megabytes: float | None = None,
               seed: int = 0) -> dict:
    """Pack the training wavs of prepared ``folders`` into ``out_dir``; returns the index's summary.

    Raises:
        CorpusError: a folder that is not prepared, folders with different audio settings, no training wav.
    """
    import soundfile as sf

    from multikd.audio.config import AudioConfig
    from multikd.audio.features import mel_basis
    from multikd.train.data import TRAIN_SPLITS

    out_dir = Path(out_dir)
    rows, audio, config_file = [], None, None
    for folder in map(Path, folders):
        meta = folder / "metadata.jsonl"
        if not meta.is_file() or not (folder / "config.json").is_file():
            raise CorpusError("not a prepared corpus (no metadata.jsonl/config.json)", where=str(folder),
                              fix="run `multikd prepare RECIPE --out DIR` first")
        a = AudioConfig.from_dict(json.loads((folder / "config.json").read_text(encoding="utf-8")).get("audio"),
                                  where=str(folder / "config.json"))
        if audio is not None and a != audio:
            raise CorpusError("prepared with other audio settings than the first folder", where=str(folder))
        audio, config_file = a, config_file or folder / "config.json"
        for line in meta.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if r.get("split") in TRAIN_SPLITS:
                rows.append((folder / r["file_name"], r["id"], r.get("speaker", ""), r.get("language", "")))
    if not rows:
        raise CorpusError("no training wav in the prepared folders", where=", ".join(map(str, folders)))
    lengths = [sf.info(str(p)).frames for p, *_ in rows]
    # An equal share of the budget per speaker, filled in a seeded random order (a wav that would overrun
    # the share is skipped, a shorter later one may still fit).
    rng = np.random.default_rng(seed)
    by_speaker: dict[str, list[int]] = {}
    for i, (_, _, spk, _) in enumerate(rows):
        by_speaker.setdefault(spk, []).append(i)
    share = None if max_megabytes is None else int(max_megabytes * 1e6) // 2 // len(by_speaker)
    chosen = []
    for s in sorted(by_speaker):
        used = 0
        for i in rng.permutation(by_speaker[s]).tolist():
            if share is None or used + lengths[i] <= share:
                chosen.append(i)
                used += lengths[i]
    chosen.sort()
    wavs = []
    for i in chosen:
        w, sr = sf.read(str(rows[i][0]), dtype="int16")
        if sr != audio.sample_rate or w.ndim != 1:
            raise CorpusError(f"wav is not mono {audio.sample_rate} Hz", where=str(rows[i][0]))
        wavs.append(w)
    offsets = np.concatenate([[0], np.cumsum([len(w) for w in wavs])]).astype(np.int64)
    from safetensors.numpy import save_file

    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file({"wav": np.concatenate(wavs).astype(np.int16), "offsets": offsets,
               "mel_basis": mel_basis(audio).numpy().astype(np.float32)}, str(tmp / AUDIO_FILE))
    speakers = sorted({rows[i][2] for i in chosen})
    index = {
        "format": PACKED_AUDIO_FORMAT, "version": 1, "sources": [str(Path(f).resolve()) for f in folders],
        "sample_rate": audio.sample_rate, "utterances": len(chosen), "of_training_utterances": len(rows),
        "seconds": round(int(offsets[-1]) / audio.sample_rate, 1), "max_megabytes": max_megabytes, "seed": seed,
        "seconds_per_speaker": {s: round(sum(lengths[i] for i in chosen if rows[i][2] == s) / audio.sample_rate, 1)
                                for s in speakers},
        "items": [{"id": rows[i][1], "speaker": rows[i][2], "language": rows[i][3], "n_samples": len(w)}
                  for i, w in zip(chosen, wavs)],
    }
    (tmp / INDEX_FILE).write_text(json.dumps(index, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    shutil.copyfile(config_file, tmp / "config.json")
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    summary = {k: v for k, v in index.items() if k != "items"}
    log.info("packed %d of %d training wavs (%.1f min) from %d speakers into %s", len(chosen), len(rows),
             index["seconds"] / 60, len(speakers), out_dir)
    return summary


class PackedAudio:
    """The utterances of a packed audio folder in memory: ``len()``, ``[i]`` → int16 array, ``lengths``."""

    def __init__(self, folder: str | Path):
        from safetensors.numpy import load_file

        folder = Path(folder)
        index = json.loads((folder / INDEX_FILE).read_text(encoding="utf-8"))
        if index.get("format") != PACKED_AUDIO_FORMAT:
            raise CorpusError("not a packed audio folder", where=str(folder),
                              fix="write it with `python -m multikd.vocoder.packed PREPARED --out DIR`")
        t = load_file(str(folder / AUDIO_FILE))
        self.wav, self.offsets, self.mel_basis = t["wav"], t["offsets"], t["mel_basis"]
        self.items = index["items"]
        self.lengths = np.diff(self.offsets).tolist()

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.wav[self.offsets[i]:self.offsets[i + 1]]


def provide_mel_basis(audio, basis: np.ndarray) -> bool:
    """Let :func:`multikd.audio.features.mel_basis` return ``basis`` for ``audio``'s settings when librosa
    is missing (a lent GPU machine); with librosa it computes its own. Returns whether it was installed."""
    try:
        import librosa  # noqa: F401

        return False
    except ImportError:
        pass
    from multikd.audio import features

    key = (int(audio.sample_rate), int(audio.n_fft), int(audio.n_mels), float(audio.fmin), float(audio.fmax))
    original = features._mel_basis_np
    if getattr(original, "_multikd_packed", None) == key:
        return True
    stored = np.asarray(basis, dtype=np.float32)

    def _mel_basis_np(sr, n_fft, n_mels, fmin, fmax):
        if (int(sr), int(n_fft), int(n_mels), float(fmin), float(fmax)) == key:
            return stored
        return original(sr, n_fft, n_mels, fmin, fmax)

    _mel_basis_np._multikd_packed = key
    features._mel_basis_np = _mel_basis_np
    log.info("librosa is missing: log-mel uses the mel basis stored in the packed audio")
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m multikd.vocoder.packed", description=__doc__.split("\n")[0])
    p.add_argument("prepared", nargs="+", help="prepared corpus folders (multikd prepare)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--max-megabytes", type=float, default=None, help="size budget of the int16 audio")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(json.dumps(pack_audio(args.prepared, args.out, args.max_megabytes, args.seed), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
