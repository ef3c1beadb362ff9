"""Durations for every utterance of a prepared corpus, from a trained model's aligner.

The aligner attends from mel frames to phone embeddings only (no language or speaker input), so it
also aligns utterances of speakers and languages the model never saw, as long as their phones are in
its symbol table. Confidence per utterance is the mean, over its mel frames, of the soft attention
weight on the phone the hard (monotonic) path picked: 1.0 when soft and hard alignments agree, near
1/len(phones) for an aligner that has not learnt anything. Stored with the durations, it lets later
stages filter bad alignments reproducibly.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import torch

from multikd.text.symbols import SymbolTable
from multikd.train.data import MODEL_INPUTS, NormStats, TTSDataset, collate, load_prepared
from multikd.train.sampler import BucketBatchSampler

log = logging.getLogger(__name__)


@torch.no_grad()
def align_corpus(model_dir: str | Path, prepared: str | Path, splits: tuple[str, ...] | None = None,
                 batch_frames: int = 8000, device: str = "cpu", progress: bool = True) -> list[dict]:
    """Align every utterance of ``prepared`` (all splits unless ``splits`` is given).

    Returns:
        one dict per utterance, in corpus order: ``id, language, speaker, phones`` (with ``<bos>``/``<eos>``
        as the model sees them), ``durations`` (frames per phone, summing to ``n_frames``), ``n_frames``,
        ``confidence``.
    Raises:
        SymbolTableError: an utterance with a phone the model's table lacks (named by its id).
    """
    from tqdm.auto import tqdm

    from multikd.models import AcousticModel

    model_dir = Path(model_dir)
    symbols = SymbolTable.load(model_dir / "symbols.json")
    norm = NormStats.load(model_dir / "norm.json")
    corpus = load_prepared([prepared], splits) if splits else _all_splits(prepared)
    # Unknown speakers/languages get id 0 (the aligner ignores both) and their own pitch statistics
    # (pitch only shapes the decoder, which alignment does not use, but keeps the inputs in range).
    langs = sorted(set(norm.languages) | set(corpus.column("language")), key=lambda x: (x not in norm.languages, x))
    spks = sorted(set(norm.speakers) | set(corpus.column("speaker")), key=lambda x: (x not in norm.speakers, x))
    local = replace(norm, languages=langs, speakers=spks, pitch={**corpus.speaker_stats, **norm.pitch})
    dataset = TTSDataset(corpus, symbols, local)
    dataset.language_ids = [i if i < len(norm.languages) else 0 for i in dataset.language_ids]
    dataset.speaker_ids = [i if i < len(norm.speakers) else 0 for i in dataset.speaker_ids]
    model = AcousticModel.from_pretrained(str(model_dir)).to(device).eval()
    sampler = BucketBatchSampler(dataset.lengths, batch_frames=batch_frames, shuffle=False)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)
    results: dict[int, dict] = {}
    languages, speakers = corpus.column("language"), corpus.column("speaker")
    index = {uid: i for i, uid in enumerate(dataset.ids)}
    with tqdm(total=len(dataset), desc="align", unit="utt", disable=not progress) as bar:
        for batch in loader:
            out = model(**{k: batch[k].to(device) for k in MODEL_INPUTS})
            for b, uid in enumerate(batch["ids"]):
                n, m = int(batch["text_lengths"][b]), int(batch["mel_lengths"][b])
                hard, soft = out.attn_hard[b, :m, :n], out.attn_soft[b, :m, :n]
                i = index[uid]
                results[i] = {
                    "id": uid, "language": languages[i], "speaker": speakers[i],
                    "phones": symbols.decode(batch["phone_ids"][b, :n]),
                    "durations": out.durations[b, :n].tolist(), "n_frames": m,
                    "confidence": round(float((soft * hard).sum() / m), 4),
                }
            bar.update(len(batch["ids"]))
    return [results[i] for i in range(len(dataset))]


def _all_splits(prepared):
    import datasets as hfd

    splits = tuple(sorted(set(hfd.load_from_disk(str(Path(prepared) / "dataset"))["split"])))
    return load_prepared([prepared], splits)
