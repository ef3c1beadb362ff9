"""flite (Debian ``flite``): CMU's small English synthesizer, voices compiled in (kal, kal16, awb, rms, slt).

One process per sentence is cheap here (~40 ms; the voices are linked into the binary). Reference
timings come from ``-psdur``, which prints ``phone:end_s`` for every segment of the utterance in
flite's CMU-derived phone set ('pau' = pause). Note ``kal`` renders at 8 kHz, the others at 16 kHz.
"""
from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache

import soundfile as sf

from multikd.data.demo.engines.base import RenderFailure, RenderRequest, RenderResult, Synthesizer, register

TIMEOUT_S = 60


def parse_psdur(stdout: str) -> list[tuple[str, float, float]]:
    """``pau:0.164 hh:0.255 ...`` (end times) → [(phone, start_s, end_s), ...]."""
    segs, start = [], 0.0
    for tok in stdout.split():
        phone, sep, end = tok.rpartition(":")
        if not sep:
            continue
        try:
            t = float(end)
        except ValueError:
            continue
        if t > start:  # zero-length segments carry no timing
            segs.append((phone, round(start, 4), round(t, 4)))
            start = t
    return segs


@lru_cache(maxsize=1)
def _installed_voices() -> tuple[str, ...]:
    out = subprocess.run(["flite", "-lv"], capture_output=True, text=True, timeout=TIMEOUT_S).stdout
    return tuple(out.split(":", 1)[-1].split())


@register
class Flite(Synthesizer):
    """flite's built-in voices by name (``slt``, ``awb``, ``rms``, ``kal16``, ``kal``); English only."""

    name = "flite"
    phone_set = "flite segments (CMU/US English phone set; 'pau' = pause)"

    @classmethod
    def available(cls) -> str | None:
        return None if shutil.which("flite") else "flite not found — apt-get install flite"

    def voices(self) -> list[str]:
        return list(_installed_voices()) if self.available() is None else []

    def render(self, req: RenderRequest) -> RenderResult | RenderFailure:
        if req.voice.voice not in self.voices():
            return RenderFailure(req.utt_id, f"flite has no voice {req.voice.voice!r} (flite -lv: {self.voices()})")
        req.out_wav.parent.mkdir(parents=True, exist_ok=True)
        # "--" is not understood by flite; a text starting with "-" is protected by a leading space.
        proc = subprocess.run(["flite", "-voice", req.voice.voice, "-psdur", "-t", " " + req.text,
                               "-o", str(req.out_wav)], capture_output=True, text=True, timeout=TIMEOUT_S)
        if proc.returncode != 0 or not req.out_wav.exists():
            return RenderFailure(req.utt_id, f"flite exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
        info = sf.info(req.out_wav)
        return RenderResult(req.utt_id, req.out_wav, int(info.samplerate), info.frames / info.samplerate,
                            parse_psdur(proc.stdout))
