"""Speak with an exported voice folder using onnxruntime and the multikd front end only — no torch.

    from multikd.export.runtime import OnnxVoice
    wav, sr = OnnxVoice("voices/cat").speak("Bon dia.", "cat")

A voice folder (written by ``multikd export``) holds ``voice.json`` (the deployment contract: symbol ids,
languages with their G2P settings, speakers, audio settings, versions, model card), ``acoustic.onnx``,
and either ``vocoder.onnx`` or, for the Griffin-Lim fallback, ``mel_basis.npy``. Synthesis follows
:class:`multikd.synthesis.Synthesizer` step by step: front end → sentences → ids → acoustic graph per
sentence → mels joined by pauses → one vocoder pass.

Nothing here may import torch (a test runs it with torch made unimportable): the front end, the symbol
table, numpy and onnxruntime are the whole dependency set.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from multikd.errors import ConfigError, MultikdError, SymbolTableError, UnknownLanguageError
from multikd.text.sentences import split_sentences
from multikd.text.symbols import SymbolTable

log = logging.getLogger(__name__)

VOICE_FORMAT = "multikd-voice"
VOICE_VERSION = 1


class OnnxVoice:
    """An exported voice: ``speak(text, lang, speaker=None, speed=1.0) → (wav float32 [S], sample_rate)``.

    Args:
        voice_dir: the folder ``multikd export`` wrote.
        threads: onnxruntime intra-op threads; 1 is what devices and the benchmarks use.
    Raises:
        ConfigError: a folder without a readable voice.json of this format, or a missing graph.
    """

    def __init__(self, voice_dir: str | Path, threads: int = 1):
        import onnxruntime as ort

        self.dir = Path(voice_dir)
        path = self.dir / "voice.json"
        try:
            self.config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"cannot read the voice config ({e})", where=str(path),
                              fix="use a folder written by `multikd export`") from None
        if self.config.get("format") != VOICE_FORMAT or self.config.get("version") != VOICE_VERSION:
            raise ConfigError(f"not a {VOICE_FORMAT} v{VOICE_VERSION} voice.json", where=str(path))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1

        def session(name: str):
            if not (self.dir / name).is_file():
                raise ConfigError(f"{name} is missing", where=str(self.dir), fix="export the voice again")
            return ort.InferenceSession(str(self.dir / name), opts, providers=["CPUExecutionProvider"])

        self.acoustic = session(self.config["acoustic"]["file"])
        voc = self.config["vocoder"]
        self.vocoder = session(voc["file"]) if voc["type"] == "onnx" else None
        self.griffinlim = None
        if voc["type"] == "griffinlim":
            self.griffinlim = NumpyGriffinLim(np.load(self.dir / voc["mel_basis"]), self.config["audio"], **voc["settings"])
        self.symbols = SymbolTable.from_dict(self.config["symbols"], where=str(path))
        self.audio = self.config["audio"]
        self._lang_ids = {x["iso"]: x["id"] for x in self.config["languages"]}
        self._speakers = {x["name"]: x for x in self.config["speakers"]}

    @property
    def sample_rate(self) -> int:
        return int(self.audio["sample_rate"])

    @property
    def languages(self) -> list[str]:
        return list(self._lang_ids)

    @property
    def speakers(self) -> list[str]:
        return list(self._speakers)

    def language(self, lang: str) -> str:
        """An ISO 639-3 key or alias → the voice's language key; typed error if the voice lacks it."""
        from multikd.text.languages import get_language

        language = get_language(lang)
        if language.iso not in self._lang_ids:
            raise UnknownLanguageError(f"the voice does not speak {language.iso!r}", where=str(self.dir),
                                       fix=f"it speaks: {', '.join(self._lang_ids)}")
        saved = next(x["lang_toml"] for x in self.config["languages"] if x["iso"] == language.iso)
        if saved.get("g2p") != language.raw.get("g2p"):
            # The front end reads this machine's lexicons/ folder; different G2P settings give other phones.
            log.warning("the G2P settings of %s differ from the voice's (exported %s): phones may differ",
                        language.lang_toml, saved.get("g2p"))
        return language.iso

    def speaker(self, name: str | None, iso: str) -> str:
        """The requested speaker, or by default the first speaker of the language (as Synthesizer does)."""
        if name is None:
            native = [s for s, x in self._speakers.items() if iso in x["languages"]]
            return (native or list(self._speakers))[0]
        if name not in self._speakers:
            raise MultikdError(f"speaker {name!r} is not in the voice", where=str(self.dir),
                               fix=f"speakers: {', '.join(self._speakers)}")
        return name

    def mel(self, text: str, lang: str, speaker: str | None = None, speed: float = 1.0) -> np.ndarray:
        """Text → ln-mel ``[T, n_mels]`` float32 of all sentences, joined by pauses."""
        from multikd.text import get_frontend

        iso = self.language(lang)
        spk = self.speaker(speaker, iso)
        if speed <= 0:
            raise ConfigError(f"speed must be > 0, got {speed}", fix="e.g. 0.8 (slower) or 1.2 (faster)")
        syn = self.config["synthesis"]
        pause = np.full((round(syn["sentence_pause_s"] * self.sample_rate / self.audio["hop_length"]),
                         self.audio["n_mels"]), np.log(syn["log_mel_floor"]), dtype=np.float32)
        sentences = split_sentences(get_frontend(iso).phonemize(text).phones)
        if not sentences:
            raise MultikdError("the text holds no speakable words", where=repr(text[:60]))
        feeds = {"language_id": np.array([self._lang_ids[iso]], np.int64),
                 "speaker_id": np.array([self._speakers[spk]["id"]], np.int64),
                 "speed": np.array([speed], np.float32)}
        parts = []
        for k, phones in enumerate(sentences):
            try:
                ids = self.symbols.encode(phones)
            except SymbolTableError as e:
                raise SymbolTableError(e.what, where=f"{iso} sentence {k + 1} of {text[:60]!r}", fix=e.fix) from None
            mel, _ = self.acoustic.run(None, {"phone_ids": np.array([ids], np.int64), **feeds})
            parts += ([pause] if parts else []) + [mel[0]]
        return np.concatenate(parts)

    def vocode(self, mel: np.ndarray) -> np.ndarray:
        """ln-mel ``[T, n_mels]`` → wav float32 ``[(T - 1) · hop]`` in [-1, 1]."""
        if self.vocoder is not None:
            wav = self.vocoder.run(None, {"mel": mel[None].astype(np.float32)})[0][0]
        else:
            wav = self.griffinlim(mel)
        return np.clip(wav, -1.0, 1.0).astype(np.float32)

    def speak(self, text: str, lang: str, speaker: str | None = None, speed: float = 1.0) -> tuple[np.ndarray, int]:
        """Text → (waveform float32 [samples] in [-1, 1], sample rate); the errors of ``Synthesizer.speak``."""
        return self.vocode(self.mel(text, lang, speaker, speed)), self.sample_rate


class NumpyGriffinLim:
    """:class:`multikd.vocoder.GriffinLim` in numpy, for voices exported without a neural vocoder.

    Same steps and settings (pseudo-inverse + non-negative refinement of the magnitude, fast Griffin-Lim
    with momentum, a fixed seeded initial phase), so it sounds the same; the random phase comes from
    numpy's generator, not torch's, so samples are not bit-identical.
    """

    def __init__(self, mel_basis: np.ndarray, audio: dict, n_iter: int = 32, momentum: float = 0.99,
                 refine_steps: int = 10, seed: int = 0):
        self.basis = mel_basis.astype(np.float32)  # [n_mels, F]
        self.pinv = np.linalg.pinv(mel_basis.astype(np.float64)).astype(np.float32)  # [F, n_mels]
        self.n_fft, self.hop, win = audio["n_fft"], audio["hop_length"], audio["win_length"]
        self.window = np.zeros(self.n_fft, np.float32)
        left = (self.n_fft - win) // 2
        self.window[left:left + win] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)  # periodic Hann
        self.n_iter, self.momentum, self.refine_steps, self.seed = n_iter, momentum, refine_steps, seed

    def _stft(self, wav: np.ndarray, n_frames: int) -> np.ndarray:
        half = self.n_fft // 2
        x = np.pad(wav, (half, half))  # centred frames, zero padding: torch.stft(center=True, pad_mode="constant")
        idx = np.arange(n_frames)[:, None] * self.hop + np.arange(self.n_fft)[None, :]
        return np.fft.rfft(x[idx] * self.window, axis=1).T  # [F, T]

    def _istft(self, spec: np.ndarray) -> np.ndarray:
        frames = np.fft.irfft(spec.T, n=self.n_fft, axis=1) * self.window  # [T, N]
        T = frames.shape[0]
        length = (T - 1) * self.hop + self.n_fft
        out, env = np.zeros(length, np.float64), np.zeros(length, np.float64)
        for t in range(T):
            out[t * self.hop:t * self.hop + self.n_fft] += frames[t]
            env[t * self.hop:t * self.hop + self.n_fft] += self.window ** 2
        half = self.n_fft // 2
        return (out[half:length - half] / np.maximum(env[half:length - half], 1e-8)).astype(np.float32)

    def __call__(self, mel: np.ndarray) -> np.ndarray:
        """ln-mel ``[T, n_mels]`` → wav float32 ``[(T - 1) · hop]``."""
        target = np.exp(mel.astype(np.float32)).T  # [n_mels, T]
        mag = np.maximum(self.pinv @ target, 1e-8)
        for _ in range(self.refine_steps):  # Lee-Seung updates for min ||basis @ mag - target||², mag >= 0
            mag = mag * (self.basis.T @ target) / (self.basis.T @ (self.basis @ mag) + 1e-9)
        T = mag.shape[1]
        angles = np.exp(2j * np.pi * np.random.default_rng(self.seed).random(mag.shape))
        previous = np.zeros_like(angles)
        for _ in range(self.n_iter):
            rebuilt = self._stft(self._istft(mag * angles), T)
            accelerated = rebuilt - (self.momentum / (1 + self.momentum)) * previous
            angles = accelerated / (np.abs(accelerated) + 1e-16)
            previous = rebuilt
        return self._istft(mag * angles)
