"""Teacher outputs as data: written once per run (``RUN/targets/``), with a confidence per utterance, then
filtered by ``distill.confidence_threshold``. Student runs read them, so they are reproducible and the
targets can be inspected (and played) on their own.

Two sources of items:

- ``audio``: every target-language training utterance. The teacher (extended with the new language's rows)
  aligns it with its own aligner (MAS durations) and, teacher-forced on those durations and the real
  pitch/energy, predicts a mel frame-aligned with the recording. Confidence = the aligner's attention
  sharpness (mean soft attention on the hard path, as ``multikd align`` reports it: 1 = certain,
  ~1/len(phones) = untrained); ``mel_l1`` (teacher vs recording) is stored beside it.
- ``text``: target-language sentences without audio. The teacher speaks them (``inference``) with the
  initialised language/speaker rows. Confidence = 1 − the mean normalised entropy of its duration
  distributions (1 = one bin certain, 0 = uniform): a teacher unsure how long phones last is guessing.

Columns of ``dataset/`` (datasets on disk): ``id, source, language, speaker, text, phones, durations [N]``
(frames per phone incl. BOS/EOS), ``mel [M, n_mels]``, ``t_log_duration``/``t_pitch``/``t_energy [N]``,
``t_duration_logits``/``t_pitch_logits``/``t_energy_logits [N, K]``, ``confidence``, ``mel_l1`` (NaN for
text), ``kept``. ``report.json`` holds the counts kept and dropped per source.
"""
from __future__ import annotations

import json
import logging
import math
import os
import shutil
from pathlib import Path

import torch

from multikd.train.data import MODEL_INPUTS, collate

log = logging.getLogger(__name__)

REPORT = "report.json"


def _features(n_mels: int, n_bins: int):
    import datasets as hfd

    seq = hfd.Sequence(hfd.Value("float32"))
    return hfd.Features({
        "id": hfd.Value("string"), "source": hfd.Value("string"), "language": hfd.Value("string"),
        "speaker": hfd.Value("string"), "text": hfd.Value("string"), "phones": hfd.Sequence(hfd.Value("string")),
        "durations": hfd.Sequence(hfd.Value("int32")), "mel": hfd.Array2D(shape=(None, n_mels), dtype="float32"),
        "t_log_duration": seq, "t_pitch": seq, "t_energy": seq,
        **{f"t_{k}_logits": hfd.Array2D(shape=(None, n_bins), dtype="float32") for k in ("duration", "pitch", "energy")},
        "confidence": hfd.Value("float32"), "mel_l1": hfd.Value("float32"), "kept": hfd.Value("bool"),
    })


def _rows(res: dict, b: int, n: int, m: int, source: str, confidence: float, mel_l1: float,
          meta: dict) -> dict:
    return {**meta, "source": source, "durations": res["durations"][b, :n].int().tolist(),
            "mel": res["mel"][b, :m].float().numpy(),
            "t_log_duration": res["log_duration"][b, :n].tolist(), "t_pitch": res["pitch"][b, :n].tolist(),
            "t_energy": res["energy"][b, :n].tolist(),
            **{f"t_{k}_logits": res[f"{k}_logits"][b, :n].float().numpy() for k in ("duration", "pitch", "energy")},
            "confidence": confidence, "mel_l1": mel_l1}


@torch.no_grad()
def audio_targets(teacher, dataset, batch_size: int = 8) -> list[dict]:
    """Teacher targets for every item of a :class:`~multikd.train.data.TTSDataset` (source ``audio``)."""
    teacher.eval()
    rows = []
    corpus = dataset.corpus
    langs, texts, phones = corpus.column("language"), corpus.column("text"), corpus.column("phones")
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        batch = collate(items)
        out = teacher(**{k: batch[k] for k in MODEL_INPUTS})
        res = {"durations": out.durations, "mel": out.mel, "log_duration": out.log_duration, "pitch": out.pitch,
               "energy": out.energy, "duration_logits": out.duration_logits, "pitch_logits": out.pitch_logits,
               "energy_logits": out.energy_logits}
        for b, item in enumerate(items):
            n, m = int(batch["text_lengths"][b]), int(batch["mel_lengths"][b])
            sharp = float((out.attn_soft[b, :m, :n] * out.attn_hard[b, :m, :n]).sum() / m)
            l1 = float((out.mel[b, :m] - batch["mels"][b, :m]).abs().mean())
            i = start + b
            meta = {"id": item["id"], "language": langs[i], "speaker": dataset.speakers[i], "text": texts[i],
                    "phones": list(phones[i])}
            rows.append(_rows(res, b, n, m, "audio", sharp, l1, meta))
    return rows


@torch.no_grad()
def text_targets(teacher, items: list[dict], batch_size: int = 8) -> list[dict]:
    """Teacher speech for text without audio. ``items``: dicts with ``id, language, speaker, text, phones,
    phone_ids (list, with BOS/EOS), language_id, speaker_id``."""
    teacher.eval()
    rows = []
    log_k = math.log(teacher.config.n_bins)
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        lengths = torch.tensor([len(x["phone_ids"]) for x in chunk])
        ids = torch.zeros(len(chunk), int(lengths.max()), dtype=torch.long)
        for b, x in enumerate(chunk):
            ids[b, :len(x["phone_ids"])] = torch.tensor(x["phone_ids"])
        res = teacher.inference(ids, lengths, torch.tensor([x["language_id"] for x in chunk]),
                                torch.tensor([x["speaker_id"] for x in chunk]))
        res["log_duration"] = teacher.variance.duration_bins.expected(res["duration_logits"]) * res["text_mask"]
        p = torch.softmax(res["duration_logits"].float(), -1)
        entropy = -(p * p.clamp_min(1e-12).log()).sum(-1) / log_k  # [B, N] in [0, 1]
        for b, x in enumerate(chunk):
            n, m = int(lengths[b]), int(res["mel_lengths"][b])
            conf = float(1.0 - entropy[b, :n].mean())
            meta = {k: x[k] for k in ("id", "language", "speaker", "text")}
            meta["phones"] = list(x["phones"])
            rows.append(_rows(res, b, n, m, "text", conf, float("nan"), meta))
    return rows


def write_targets(out_dir: Path, rows: list[dict], threshold: float, n_mels: int, n_bins: int) -> dict:
    """Save ``rows`` with a ``kept`` flag (confidence ≥ threshold) and the counts; atomic (tmp + rename).

    Returns:
        the report: ``{"threshold", "sources": {source: {"total", "kept", "dropped"}}, "dropped_ids"}``.
    """
    import datasets as hfd

    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for r in rows:
        r["kept"] = bool(r["confidence"] >= threshold)
    hfd.Dataset.from_list(rows, features=_features(n_mels, n_bins)).save_to_disk(str(tmp / "dataset"))
    sources = {}
    for r in rows:
        s = sources.setdefault(r["source"], {"total": 0, "kept": 0, "dropped": 0})
        s["total"] += 1
        s["kept" if r["kept"] else "dropped"] += 1
    report = {"threshold": threshold, "sources": sources, "dropped_ids": [r["id"] for r in rows if not r["kept"]]}
    (tmp / REPORT).write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    for src, c in sources.items():
        log.info("teacher targets (%s): %d of %d kept at confidence ≥ %.2f", src, c["kept"], c["total"], threshold)
    return report


def targets_exist(out_dir: Path) -> bool:
    return (Path(out_dir) / REPORT).is_file() and (Path(out_dir) / "dataset").is_dir()


def load_targets(out_dir: Path):
    """The kept rows of a targets folder, numpy-formatted (``datasets.Dataset``)."""
    import datasets as hfd

    ds = hfd.load_from_disk(str(Path(out_dir) / "dataset"))
    ds = ds.select([i for i, kept in enumerate(ds["kept"]) if kept])
    ds.set_format("numpy", output_all_columns=True)
    return ds
