"""Common interface of the offline synthesizers that render the demo corpus, and their registry.

Every engine turns ``RenderRequest``s into ``RenderResult``s (a wav at the engine's native sample rate
plus the engine's own phone timings) or ``RenderFailure``s (a reason a person can act on). A failed
utterance is always returned, never dropped, so the corpus report can count it.
"""
from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import soundfile as sf

from multikd.errors import CorpusError

log = logging.getLogger(__name__)

# Plausibility bounds for one rendered sentence. Human and synthetic read speech runs at roughly
# 10-18 letters per second; the bounds are wide so slow diphone voices pass, but an engine that read
# only a fragment of the text (wrong input encoding) or nothing at all fails.
MIN_LETTERS_PER_S = 3.0
MAX_LETTERS_PER_S = 40.0
# Non-silence: the peak must reach -40 dBFS and the RMS -60 dBFS (a silent file is all zeros or dither).
MIN_PEAK = 0.01
MIN_RMS = 0.001
# Reference phones per letter: a festival voice fed the wrong encoding drops most letters, so it
# produces far fewer phones than the text has letters.
MIN_PHONES_PER_LETTER = 0.3


@dataclass(frozen=True)
class Voice:
    """One row of voices.toml: a speaker of the demo corpus.

    Attributes:
        speaker: corpus speaker id, ``<engine>-<voice>`` (table key).
        engine: registry name of the synthesizer.
        voice: the engine's own voice name (``sw+m3``, ``upc_ca_ona_hts``, ``slt``).
        language: ISO 639-3 code of the text the voice reads.
        role: ``teacher`` (high-resource mix) or ``target`` (held out from the teacher).
        options: engine-specific settings (festival ``encoding``, espeak ``rate`` in words/min, ...).
    """

    speaker: str
    engine: str
    voice: str
    language: str
    role: str
    options: dict = field(default_factory=dict)
    notes: str = ""


@dataclass(frozen=True)
class RenderRequest:
    utt_id: str
    text: str
    voice: Voice
    out_wav: Path


@dataclass
class RenderResult:
    """A rendered utterance. ``duration`` in seconds; ``ref_phones`` as (phone, start_s, end_s) in
    the engine's phone set, or None when the engine gives no timings."""

    utt_id: str
    wav_path: Path
    sample_rate: int
    duration: float
    ref_phones: list[tuple[str, float, float]] | None


@dataclass
class RenderFailure:
    utt_id: str
    reason: str


class Synthesizer:
    """Base of every engine. Subclasses set ``name`` and implement ``available`` and ``render``;
    engines that can amortise start-up over many utterances override ``render_many``."""

    name: str = ""
    phone_set: str = ""  # what the reference phones are, for the alignment files

    @classmethod
    def available(cls) -> str | None:
        """None when the engine can run here, else why not and how to install it."""
        raise NotImplementedError

    def voices(self) -> list[str]:
        """Voice names this engine offers on this machine (for ``list-voices`` and validation)."""
        return []

    def render(self, req: RenderRequest) -> RenderResult | RenderFailure:
        raise NotImplementedError

    def render_many(self, reqs: Iterable[RenderRequest]) -> Iterator[RenderResult | RenderFailure]:
        for req in reqs:
            try:
                yield self.render(req)
            except (OSError, RuntimeError, ValueError) as e:
                yield RenderFailure(req.utt_id, f"{self.name} raised {type(e).__name__}: {e}")


ENGINES: dict[str, type[Synthesizer]] = {}


def register(cls: type[Synthesizer]) -> type[Synthesizer]:
    """Class decorator: add an engine to the registry under ``cls.name``."""
    if not cls.name or cls.name in ENGINES:
        raise ValueError(f"engine name missing or registered twice: {cls.name!r}")
    for meth in ("available", "render"):
        if getattr(cls, meth) is getattr(Synthesizer, meth):
            raise TypeError(f"engine {cls.name} must implement {meth}()")
    ENGINES[cls.name] = cls
    return cls


def get_engine(name: str) -> Synthesizer:
    if name not in ENGINES:
        raise CorpusError(f"unknown synthesizer {name!r}", fix=f"use one of {sorted(ENGINES)}")
    return ENGINES[name]()


def count_letters(text: str) -> int:
    """Letters and combining marks (Devanagari vowel signs are marks, not letters)."""
    return sum(1 for ch in text if unicodedata.category(ch)[0] in "LM")


def check_rendered(req: RenderRequest, result: RenderResult) -> RenderFailure | None:
    """Reject a render that is empty, silent, or implausibly short/long for its text.

    These checks exist because festival and friends fail silently: a wrong input encoding gives a
    short burst of audio for the ASCII letters only, not an error.
    """
    try:
        audio, sr = sf.read(result.wav_path, dtype="float32", always_2d=True)
    except (OSError, RuntimeError) as e:
        return RenderFailure(req.utt_id, f"unreadable wav {result.wav_path}: {e}")
    audio = audio[:, 0]
    if audio.size == 0:
        return RenderFailure(req.utt_id, "engine wrote an empty wav")
    peak, rms = float(np.abs(audio).max()), float(np.sqrt(np.mean(audio**2)))
    if peak < MIN_PEAK or rms < MIN_RMS:
        return RenderFailure(req.utt_id, f"silent output (peak {peak:.4f}, rms {rms:.5f})")
    letters = max(count_letters(req.text), 1)
    speech = speech_span(result)
    rate = letters / max(speech, 1e-3)
    if not MIN_LETTERS_PER_S <= rate <= MAX_LETTERS_PER_S:
        return RenderFailure(
            req.utt_id,
            f"implausible duration {speech:.2f} s of speech for {letters} letters ({rate:.1f} letters/s; "
            f"expected {MIN_LETTERS_PER_S}-{MAX_LETTERS_PER_S}) — check the voice's input encoding",
        )
    if result.ref_phones is not None:
        n_phones = sum(1 for p, _, _ in result.ref_phones if not is_pause(p))
        if n_phones < MIN_PHONES_PER_LETTER * letters:
            return RenderFailure(
                req.utt_id, f"only {n_phones} phones for {letters} letters — the engine skipped text "
                "(wrong input encoding or unsupported script)")
    return None


PAUSES = frozenset({"pau", "sil", "_", "#", "h#", ""})


def is_pause(phone: str) -> bool:
    return phone in PAUSES


def speech_span(result: RenderResult) -> float:
    """Seconds from the first to the last non-pause phone, or the whole duration without timings.
    Leading/trailing silence (festival's Hindi voice leaves ~1.7 s) would otherwise skew rate checks."""
    if not result.ref_phones:
        return result.duration
    spoken = [(s, e) for p, s, e in result.ref_phones if not is_pause(p)]
    if not spoken:
        return 0.0
    return spoken[-1][1] - spoken[0][0]
