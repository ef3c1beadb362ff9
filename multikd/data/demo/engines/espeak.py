"""espeak-ng through its C library (libespeak-ng), with IPA phoneme events as reference timings.

The command line's ``--pho`` prints nothing without mbrola voices, so timings come from the C API:
``espeak_Initialize(..., espeakINITIALIZE_PHONEME_EVENTS | espeakINITIALIZE_PHONEME_IPA)`` makes the
synth callback receive one event per phone with its start in ms. In-process synthesis costs ~20 ms per
sentence, so no batching is needed.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import subprocess

import numpy as np
import soundfile as sf

from multikd.data.demo.engines.base import RenderFailure, RenderRequest, RenderResult, Synthesizer, register

log = logging.getLogger(__name__)

# Constants from espeak-ng's speak_lib.h (stable C ABI since espeak 1.48).
AUDIO_OUTPUT_SYNCHRONOUS = 2
INIT_PHONEME_EVENTS, INIT_PHONEME_IPA, INIT_DONT_EXIT = 0x0001, 0x0002, 0x8000
CHARS_UTF8 = 1
POS_CHARACTER = 1
EVENT_LIST_TERMINATED, EVENT_PHONEME = 0, 7
PARAMS = {"rate": 1, "volume": 2, "pitch": 3, "range": 4}  # espeak_PARAMETER enum
PAUSE = "_"  # espeak-ng reports pauses as phoneme events with an empty name


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms from the start of this synth call
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class _Lib:
    """The process-wide libespeak-ng handle; the library keeps global state, so there is one."""

    _instance: "_Lib | None" = None

    def __init__(self):
        path = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        self.lib = ctypes.CDLL(path)
        self.sample_rate = self.lib.espeak_Initialize(
            AUDIO_OUTPUT_SYNCHRONOUS, 0, None, INIT_PHONEME_EVENTS | INIT_PHONEME_IPA | INIT_DONT_EXIT)
        if self.sample_rate <= 0:
            raise RuntimeError(f"espeak_Initialize failed ({self.sample_rate})")
        self.chunks: list[np.ndarray] = []
        self.events: list[tuple[str, int]] = []  # (IPA phone, start ms)
        self._cb = _CALLBACK(self._on_audio)  # keep a reference: ctypes callbacks die with their object
        self.lib.espeak_SetSynthCallback(self._cb)
        self.voice: str | None = None

    @classmethod
    def get(cls) -> "_Lib":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def _on_audio(self, wav, n, events) -> int:
        if wav and n > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, (n,)).copy())
        i = 0
        while events[i].type != EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == EVENT_PHONEME:
                name = bytes(ev.id.string).split(b"\0")[0].decode("utf-8", "replace")
                self.events.append((name or PAUSE, ev.audio_position))
            i += 1
        return 0

    def synth(self, text: str, voice: str, params: dict[str, int]) -> tuple[np.ndarray, list[tuple[str, int]]]:
        if voice != self.voice:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice {voice!r} (see `espeak-ng --voices`)")
            self.voice = voice
        # Parameters are reset for every call so one voice's rate never leaks into the next.
        for key, code in PARAMS.items():
            default = self.lib.espeak_GetParameter(code, 0)
            self.lib.espeak_SetParameter(code, int(params.get(key, default)), 0)
        self.chunks, self.events = [], []
        data = text.encode("utf-8")
        err = self.lib.espeak_Synth(data, len(data) + 1, 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
        self.lib.espeak_Synchronize()
        if err != 0:
            raise RuntimeError(f"espeak_Synth returned error {err}")
        audio = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        return audio, self.events


@register
class EspeakNG(Synthesizer):
    """espeak-ng voices ``<lang>[+variant]``; options ``rate`` (words/min), ``pitch``, ``range`` (0-100)."""

    name = "espeak-ng"
    phone_set = "espeak-ng IPA phoneme events (stress marks attached, '_' = pause)"

    @classmethod
    def available(cls) -> str | None:
        if not (ctypes.util.find_library("espeak-ng")):
            try:
                ctypes.CDLL("libespeak-ng.so.1")
            except OSError:
                return "libespeak-ng not found — apt-get install espeak-ng libespeak-ng1"
        return None

    def voices(self) -> list[str]:
        try:
            out = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            return []
        return [line.split()[1] for line in out.splitlines()[1:] if len(line.split()) > 1]

    def render(self, req: RenderRequest) -> RenderResult | RenderFailure:
        lib = _Lib.get()
        params = {k: v for k, v in req.voice.options.items() if k in PARAMS}
        try:
            audio, events = lib.synth(req.text, req.voice.voice, params)
        except ValueError as e:
            return RenderFailure(req.utt_id, str(e))
        sr = lib.sample_rate
        req.out_wav.parent.mkdir(parents=True, exist_ok=True)
        sf.write(req.out_wav, audio, sr, subtype="PCM_16")
        duration = len(audio) / sr
        return RenderResult(req.utt_id, req.out_wav, sr, duration, _segments(events, duration))


def _segments(events: list[tuple[str, int]], duration: float) -> list[tuple[str, float, float]]:
    """Phone start times (ms) → (phone, start_s, end_s); each phone ends where the next starts and the
    last one at the end of the audio. Zero-length events (espeak emits some at sentence joins) are dropped."""
    segs = []
    for i, (phone, start_ms) in enumerate(events):
        start = round(min(start_ms / 1000.0, duration), 4)
        end = round(min(events[i + 1][1] / 1000.0 if i + 1 < len(events) else duration, duration), 4)
        if end > start:
            segs.append((phone, start, end))
    return segs
