"""Validation samples during training: per language, one synthesized sentence (wav + mel plot) and one
teacher-forced utterance (alignment plot + predicted/ground-truth mel), under ``RUN/samples/step-XXXXXXX/``.

The sentence is the first of the language's ``lexicons/*/sentences.txt`` that the model's symbol table
can encode; a language without one is sampled from its held-out utterances instead.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from multikd.errors import MultikdError
from multikd.train.data import collate
from multikd.train.plots import plot_alignment, plot_mel

log = logging.getLogger(__name__)


@dataclass
class SampleSentence:
    language: str
    speaker: str
    text: str
    phones: list[str]
    phone_ids: list[int]


def validation_sentences(norm, symbols) -> list[SampleSentence]:
    """The fixed sample sentences of a run: one per language the model speaks, with its first speaker."""
    from multikd.text import get_frontend
    from multikd.text.languages import get_language

    out = []
    for lang in norm.languages:
        speaker = next(s for s in norm.speakers if lang in norm.speaker_languages.get(s, [lang]))
        try:
            candidates = get_language(lang).sentences()
            frontend = get_frontend(lang)
        except MultikdError as e:
            log.warning("no sample sentence for %s: %s", lang, e)
            continue
        for text in candidates:
            try:
                phones = frontend.phonemize(text).phones
                out.append(SampleSentence(lang, speaker, text, phones, symbols.encode(phones)))
                break
            except MultikdError as e:
                log.debug("sample sentence %r of %s skipped: %s", text, lang, e)
        else:
            log.warning("no sentence of %s can be encoded with the model's symbols; no sample", lang)
    return out


def alignment_items(dataset, norm, per_language: int = 1) -> list[int]:
    """Fixed dataset indices (the first utterance of every language) for alignment plots."""
    seen: dict[int, int] = {}
    picked = []
    for i, lang in enumerate(dataset.language_ids):
        if seen.get(lang, 0) < per_language:
            seen[lang] = seen.get(lang, 0) + 1
            picked.append(i)
    return picked


@torch.no_grad()
def write_samples(model, out_dir: Path, sentences: list[SampleSentence], dataset, items: list[int], norm,
                  symbols, vocoder, device, writer=None, step: int = 0) -> None:
    """Synthesize ``sentences`` and plot alignments of ``dataset[items]`` with ``model`` in eval mode."""
    import soundfile as sf

    out_dir.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    try:
        for s in sentences:
            ids = torch.tensor([s.phone_ids], device=device)
            res = model.inference(ids, torch.tensor([len(s.phone_ids)], device=device),
                                  torch.tensor([norm.languages.index(s.language)], device=device),
                                  torch.tensor([norm.speakers.index(s.speaker)], device=device))
            mel = res["mel"][0, : int(res["mel_lengths"][0])].float().cpu()  # [T, n_mels]
            wav = vocoder.vocode(mel[None])[0].numpy()
            sf.write(out_dir / f"{s.language}.wav", wav, vocoder.sample_rate)
            plot_mel(mel.numpy(), out_dir / f"{s.language}-mel.png", title=f"{s.language}: {s.text}")
            if writer is not None:
                writer.add_audio(f"sample/{s.language}", torch.from_numpy(wav)[None], step, vocoder.sample_rate)
        for i in items:
            batch = collate([dataset[i]])
            inputs = {k: v.to(device) for k, v in batch.items() if k != "ids"}
            out = model(**inputs)
            lang = norm.languages[int(batch["language_ids"][0])]
            phones = symbols.decode(batch["phone_ids"][0])
            plot_alignment(out.attn_soft[0].float().cpu().numpy(), out_dir / f"{lang}-alignment.png",
                           hard=out.attn_hard[0].float().cpu().numpy(), phones=phones, title=batch["ids"][0])
            plot_mel(out.mel[0].float().cpu().numpy(), out_dir / f"{lang}-teacher-forced.png",
                     title=batch["ids"][0], reference=batch["mels"][0].numpy())
    finally:
        model.train(was_training)
    log.info("samples in %s", out_dir)

