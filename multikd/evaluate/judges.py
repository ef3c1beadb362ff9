"""Judges pretrained on real speech that run offline: DNSMOS, speaker similarity, English ASR WER.

All three are optional (the ``[eval]`` extra). Each loads its model once per process, on first use; when
its package cannot be imported the metric reports ``{"skipped": reason}`` with the install command.
They are trained on real recordings, so on synthetic speech they measure how real-speech-like the output
is — useful to rank systems against each other, not an absolute quality scale.
"""
from __future__ import annotations

import logging
import math

import numpy as np

from multikd.evaluate.base import EVAL_SR, Metric, register_metric
from multikd.evaluate.wer import pooled_wer, word_errors

log = logging.getLogger(__name__)

__all__ = ["DNSMOS", "SpeakerSimilarity", "PocketsphinxWER"]


class _Judge(Metric):
    """A metric backed by an optional package: its import failure becomes the skip reason."""

    install_hint = ""

    def __init__(self) -> None:
        self._model = None
        self._reason: str | None = None
        self._checked = False

    def _load(self):
        """Import the package and build the model; raise ImportError if the package is missing."""
        raise NotImplementedError

    def unavailable(self) -> str | None:
        if not self._checked:
            self._checked = True
            try:
                self._model = self._load()
            except ImportError as e:
                self._reason = f"{self.name}: {e} — install with: {self.install_hint}"
                log.info("metric %s skipped: %s", self.name, self._reason)
        return self._reason


@register_metric
class DNSMOS(_Judge):
    """Microsoft DNSMOS P.835 (signal, background, overall) and P.808 MOS, via the ``speechmos`` package.

    Reference-free; 1-5 scale, higher is better. Input clipped to [-1, 1] (speechmos refuses anything
    outside), 16 kHz; speechmos scores 9 s windows hopped by 1 s and averages them, repeating a shorter
    clip until it is 9 s long.
    """

    name = "dnsmos"
    keys = ("dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "dnsmos_p808")
    higher_is_better = True
    install_hint = "pip install speechmos onnxruntime requests"

    def _load(self):
        # speechmos declares no dependencies; it imports onnxruntime, librosa and requests at module level.
        from speechmos import dnsmos

        return dnsmos

    def describe(self) -> str:
        return ("DNSMOS (speechmos; bundled ONNX models, offline): predicted MOS 1-5, higher is better — "
                "dnsmos_ovrl/sig/bak (P.835 overall, speech signal, background) and dnsmos_p808 (P.808), "
                f"input at {EVAL_SR} Hz clipped to [-1, 1], averaged over 9 s windows (short clips repeated to "
                "9 s). Reference-free.")

    def compute(self, hyp, ref, text, lang) -> dict:
        out = self._model.run(np.clip(hyp, -1.0, 1.0).astype(np.float32), sr=EVAL_SR)
        return {"dnsmos_ovrl": float(out["ovrl_mos"]), "dnsmos_sig": float(out["sig_mos"]),
                "dnsmos_bak": float(out["bak_mos"]), "dnsmos_p808": float(out["p808_mos"])}


@register_metric
class SpeakerSimilarity(_Judge):
    """Cosine similarity of resemblyzer (GE2E d-vector) embeddings of hypothesis and reference speaker.

    The reference is any recording of the target speaker (it need not say the same text).
    """

    name = "speaker_sim"
    keys = ("speaker_sim",)
    needs_ref = True
    higher_is_better = True
    install_hint = "pip install resemblyzer 'setuptools<81' (webrtcvad imports pkg_resources)"

    def _load(self):
        from resemblyzer import VoiceEncoder, preprocess_wav

        return VoiceEncoder("cpu", verbose=False), preprocess_wav

    def describe(self) -> str:
        return ("Speaker similarity (resemblyzer GE2E encoder, bundled weights): cosine of the 256-d "
                "utterance embeddings of hypothesis and a reference recording of the target speaker, "
                "after resemblyzer's own volume normalisation and VAD; -1..1, higher is better (same "
                "speaker on real speech ~0.75-0.85, different speakers ~0.5-0.7).")

    def compute(self, hyp, ref, text, lang) -> dict:
        encoder, preprocess = self._model
        a, b = preprocess(hyp, source_sr=EVAL_SR), preprocess(ref, source_sr=EVAL_SR)
        # Under ~0.2 s of detected speech the encoder has no full window to embed: undefined, not 0.
        if min(len(a), len(b)) < 0.2 * EVAL_SR:
            return {"speaker_sim": float("nan")}
        ea, eb = encoder.embed_utterance(a), encoder.embed_utterance(b)
        cos = float(np.dot(ea, eb) / (np.linalg.norm(ea) * np.linalg.norm(eb)))
        return {"speaker_sim": cos}


# ISO 639-3 key and the common aliases of English; pocketsphinx bundles an en-US model only.
_ENGLISH = {"eng", "en", "en-us", "en_us", "en-gb", "en_gb"}


@register_metric
class PocketsphinxWER(_Judge):
    """English WER of the hypothesis as recognised by pocketsphinx 5 (bundled en-US acoustic model + LM)."""

    name = "wer"
    keys = ("wer",)
    needs_text = True
    install_hint = "pip install 'pocketsphinx>=5'"

    def _load(self):
        from pocketsphinx import Config, Decoder

        # FATAL only: at INFO pocketsphinx writes hundreds of lines per utterance to stderr.
        return Decoder(Config(samprate=EVAL_SR, loglevel="FATAL"))

    def describe(self) -> str:
        return ("WER (fraction, lower is better): pocketsphinx 5 with its bundled en-US acoustic model and "
                "generic language model, 16 kHz; edit distance of words after NFKC, lowercasing and "
                "punctuation removal on both sides, / reference words. The summary adds the pooled corpus "
                "WER (Σ edits / Σ words). English only; a weak recogniser (~10-25 % on clean read speech), "
                "so compare systems with it rather than quoting it as intelligibility.")

    def skip_reason(self, text, lang) -> str | None:
        if lang is not None and lang.lower() not in _ENGLISH:
            return f"wer: pocketsphinx ships an English model only (language {lang!r})"
        return None

    def transcribe(self, wav: np.ndarray) -> str:
        """Recognise a 16 kHz waveform [T]; returns the word string ('' when nothing is recognised)."""
        pcm = (np.clip(wav, -1.0, 1.0) * 32767.0).astype(np.int16)
        decoder = self._model
        decoder.start_utt()
        decoder.process_raw(pcm.tobytes(), no_search=False, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    def compute(self, hyp, ref, text, lang) -> dict:
        asr = self.transcribe(hyp)
        edits, words = word_errors(text, asr)
        wer = edits / words if words else float("nan")
        return {"wer": wer, "wer_edits": edits, "wer_ref_words": words, "asr_text": asr}

    def corpus_summary(self, rows: list[dict]) -> dict:
        pairs = [(r["wer_edits"], r["wer_ref_words"]) for r in rows
                 if isinstance(r.get("wer_edits"), int) and isinstance(r.get("wer_ref_words"), int)]
        wer = pooled_wer(pairs)
        return {"wer_pooled": wer} if not math.isnan(wer) else {}
