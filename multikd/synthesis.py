"""Text → speech with a trained model folder: ``Synthesizer(model_dir).speak(text, "spa")``.

A model folder is what training exports (``RUN/model``): ``config.json`` + ``model.safetensors``
(:class:`multikd.models.AcousticModel`), ``symbols.json``, ``norm.json`` (languages, speakers) and
``audio.json`` (the feature settings the vocoder must match).

Long text is split after every sentence token (``.``, ``?``, ``!``) of the front end; each sentence is
synthesized on its own (attention cost grows with the square of the length, and one bad duration stays
local) and the mels are joined with :data:`SENTENCE_PAUSE_S` of silence before one vocoder pass.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch

from multikd.audio.config import AudioConfig
from multikd.audio.features import LOG_MEL_FLOOR
from multikd.errors import ConfigError, MultikdError, SymbolTableError, UnknownLanguageError
from multikd.text.sentences import split_sentences
from multikd.text.symbols import SymbolTable

log = logging.getLogger(__name__)

SENTENCE_PAUSE_S = 0.25  # between sentences: a reading pause, shorter than a paragraph break
MODEL_FILES = ("config.json", "symbols.json", "norm.json", "audio.json")


class UnknownSpeakerError(MultikdError):
    """A speaker name the model was not trained on."""


class Synthesizer:
    """A trained acoustic model plus a vocoder.

    Args:
        model_dir: an exported model folder (``RUN/model``).
        vocoder: a registered vocoder name (``griffinlim``), a trained vocoder's folder, or a
            :class:`multikd.vocoder.Vocoder`.
        device: torch device for the acoustic model.
    Raises:
        ConfigError: a folder that is not an exported model.
    """

    def __init__(self, model_dir: str | Path, vocoder="griffinlim", device: str = "cpu",
                 unseen_phones: str = "error"):
        from multikd.models import AcousticModel
        from multikd.train.data import NormStats
        from multikd.vocoder import Vocoder, load_vocoder

        self.model_dir = Path(model_dir)
        missing = [f for f in MODEL_FILES if not (self.model_dir / f).is_file()]
        if missing:
            raise ConfigError(f"not an exported multikd model (missing {', '.join(missing)})",
                              where=str(self.model_dir), fix="use the model/ folder of a training run")
        self.symbols = SymbolTable.load(self.model_dir / "symbols.json")
        self.norm = NormStats.load(self.model_dir / "norm.json")
        self.audio = AudioConfig.from_dict(json.loads((self.model_dir / "audio.json").read_text()),
                                           where=str(self.model_dir / "audio.json"))
        self.device = torch.device(device)
        self.model = AcousticModel.from_pretrained(str(self.model_dir)).to(self.device).eval()
        self.vocoder = vocoder if isinstance(vocoder, Vocoder) else load_vocoder(str(vocoder), self.audio)
        if unseen_phones not in ("error", "features"):
            raise ConfigError(f"unseen_phones must be 'error' or 'features', not {unseen_phones!r}")
        # "error": text with a phone the model never saw is refused (naming the nearest known phones);
        # "features": the phone is added to the vocabulary, embedded from its articulatory features and
        # its nearest known phones (multikd.models.vocab), and reported in the log.
        self.unseen_phones = unseen_phones

    @property
    def sample_rate(self) -> int:
        return self.audio.sample_rate

    @property
    def languages(self) -> list[str]:
        return list(self.norm.languages)

    @property
    def speakers(self) -> list[str]:
        return list(self.norm.speakers)

    def language(self, lang: str) -> str:
        """An ISO 639-3 key or alias → the model's language key; typed error if the model lacks it."""
        from multikd.text.languages import get_language

        iso = get_language(lang).iso  # UnknownLanguageError for a language multikd has no front end for
        if iso not in self.norm.languages:
            raise UnknownLanguageError(f"the model does not speak {iso!r}", where=str(self.model_dir),
                                       fix=f"it speaks: {', '.join(self.norm.languages)}; distil a student "
                                       "for a new language")
        return iso

    def speaker(self, name: str | None, iso: str) -> str:
        """The requested speaker, or by default the first (sorted) speaker of the language."""
        if name is None:
            native = [s for s in self.norm.speakers if iso in self.norm.speaker_languages.get(s, [])]
            return (native or self.norm.speakers)[0]
        if name not in self.norm.speakers:
            near = [s for s in self.norm.speakers if iso in self.norm.speaker_languages.get(s, [])]
            raise UnknownSpeakerError(f"speaker {name!r} is not in the model", where=str(self.model_dir),
                                      fix=f"speakers of {iso}: {', '.join(near) or 'none'}; "
                                      f"all: {', '.join(self.norm.speakers)}")
        return name

    def phonemes(self, text: str, lang: str) -> list[list[str]]:
        """Text → sentences of front-end tokens (raises the front end's typed errors)."""
        from multikd.text import get_frontend

        return split_sentences(get_frontend(self.language(lang)).phonemize(text).phones)

    def encode(self, phones: list[str], where: str) -> list[int]:
        unseen = [p for p in phones if p not in self.symbols]
        if unseen and self.unseen_phones == "features":
            from multikd.models.vocab import add_phones

            for tok, near in add_phones(self.model, self.symbols, unseen):
                log.warning("%s: phone %r is not in the model's table; embedded from its features and its "
                            "nearest known phones %s", where, tok, ", ".join(f"{p} ({d:.2f})" for p, d in near))
        try:
            return self.symbols.encode(phones)
        except SymbolTableError as e:
            raise SymbolTableError(e.what, where=where, fix=e.fix) from None

    @torch.no_grad()
    def mel(self, text: str, lang: str, speaker: str | None = None, speed: float = 1.0) -> torch.Tensor:
        """Text → ln-mel [T, n_mels] of all sentences, joined by pauses."""
        iso = self.language(lang)
        spk = self.speaker(speaker, iso)
        if speed <= 0:
            raise ConfigError(f"speed must be > 0, got {speed}", fix="e.g. 0.8 (slower) or 1.2 (faster)")
        lang_id = torch.tensor([self.norm.languages.index(iso)], device=self.device)
        spk_id = torch.tensor([self.norm.speakers.index(spk)], device=self.device)
        silence = torch.full((round(SENTENCE_PAUSE_S * self.audio.frames_per_second), self.audio.n_mels),
                             float(np.log(LOG_MEL_FLOOR)))
        sentences = self.phonemes(text, iso)
        if not sentences:
            raise MultikdError("the text holds no speakable words", where=repr(text[:60]))
        parts = []
        for k, phones in enumerate(sentences):
            ids = self.encode(phones, where=f"{iso} sentence {k + 1} of {text[:60]!r}")
            res = self.model.inference(torch.tensor([ids], device=self.device), torch.tensor([len(ids)], device=self.device),
                                       lang_id, spk_id, speed=speed)
            n = int(res["mel_lengths"][0])
            if n == 0:
                log.warning("sentence %d: the model predicted no frames (untrained?)", k + 1)
                continue
            parts += ([silence] if parts else []) + [res["mel"][0, :n].float().cpu()]
        return torch.cat(parts) if parts else silence

    def speak(self, text: str, lang: str, speaker: str | None = None, speed: float = 1.0) -> tuple[np.ndarray, int]:
        """Text → (waveform float32 [samples] in [-1, 1], sample rate).

        Raises:
            UnknownLanguageError: a language the front end or the model does not know.
            UnknownSpeakerError: a speaker the model does not know.
            SymbolTableError: a phone the model's symbol table lacks (with the nearest known phones).
            TextError: text the front end cannot read.
        """
        mel = self.mel(text, lang, speaker, speed)
        wav = self.vocoder.vocode(mel[None])[0]
        return wav.cpu().numpy().astype(np.float32), self.sample_rate
