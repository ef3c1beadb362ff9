"""Festival (Debian ``festival`` + ``festvox-*`` voices), batched: one process per voice and chunk.

Starting festival costs ~0.5 s, rendering a sentence 15-40 ms, so a chunk of sentences goes into one
Scheme script run with ``festival -b``. Each sentence is wrapped in ``unwind-protect`` so one bad
sentence prints ``FAIL <id>`` instead of aborting the rest; anything still missing when the process
exits is reported as a failure with festival's stderr.

Traps:
- The script must be written in the voice's input encoding (voices.toml ``encoding``): it/fi/ca read
  ISO-8859-1, cs ISO-8859-2, ru/hi/mr UTF-8. A wrong one does not raise; it renders a fragment, which
  ``check_rendered`` then rejects by its duration and phone count.
- ``Utterance`` is a special form that does not evaluate its arguments, so the text is passed through
  ``eval`` (otherwise festival says the variable's name).
- Reference timings come from ``utt.save.segs`` (segment end times, the voice's own phone set).
  Festival's Hindi and Marathi voices leave ~1.7 s of trailing silence; it is kept here and left to
  ``prepare``'s trimming, and the timing checks measure speech from the first to the last phone.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

import soundfile as sf

from multikd.data.demo.engines.base import (
    RenderFailure,
    RenderRequest,
    RenderResult,
    Synthesizer,
    is_pause,
    register,
)

log = logging.getLogger(__name__)

CHUNK = 40  # sentences per festival process: amortises start-up, keeps progress and failures local
TIMEOUT_PER_SENTENCE_S = 20.0

_UTT_FN = """(define (multikd-say id txt)
  (unwind-protect
    (let ((u (eval (list 'Utterance 'Text txt))))
      (utt.synth u)
      (utt.save.wave u (string-append id ".wav") 'riff)
      (utt.save.segs u (string-append id ".lab"))
      (format t "OK %s\\n" id))
    (format t "FAIL %s\\n" id)))
"""


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@lru_cache(maxsize=1)
def _installed_voices() -> tuple[str, ...]:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "list.scm"
        script.write_text('(format t "%l\\n" (voice.list))\n')
        out = subprocess.run(["festival", "-b", str(script)], capture_output=True, text=True, timeout=60)
    return tuple(out.stdout.strip().strip("()").split())


def read_segs(lab: Path) -> list[tuple[str, float, float]]:
    """Parse festival's segment label file (``end_s 100 phone`` lines after a ``#``) into
    (phone, start_s, end_s); each segment starts where the previous one ended; zero-length ones
    are dropped."""
    segs, start, body = [], 0.0, False
    for line in lab.read_text(encoding="utf-8", errors="replace").splitlines():
        if not body:
            body = line.strip() == "#"
            continue
        parts = line.split()
        if len(parts) < 3:
            continue
        end = float(parts[0])
        if end > start:  # zero-length segments (some voices emit them) carry no timing
            segs.append((parts[2], round(start, 4), round(end, 4)))
            start = end
    return segs


@register
class Festival(Synthesizer):
    """Festival voices by their Scheme name (``upc_ca_ona_hts``); option ``encoding`` (required)."""

    name = "festival"
    phone_set = "festival segment labels (the voice's own phone set; 'pau' = pause)"

    @classmethod
    def available(cls) -> str | None:
        if not shutil.which("festival"):
            return "festival not found — apt-get install festival and the festvox-* voice packages"
        return None

    def voices(self) -> list[str]:
        return list(_installed_voices()) if self.available() is None else []

    def render(self, req: RenderRequest) -> RenderResult | RenderFailure:
        return next(iter(self.render_many([req])))

    def render_many(self, reqs: Iterable[RenderRequest]) -> Iterator[RenderResult | RenderFailure]:
        batch: list[RenderRequest] = []
        for req in reqs:
            if batch and (len(batch) >= CHUNK or req.voice != batch[0].voice):
                yield from self._run_batch(batch)
                batch = []
            batch.append(req)
        if batch:
            yield from self._run_batch(batch)

    def _run_batch(self, batch: list[RenderRequest]) -> Iterator[RenderResult | RenderFailure]:
        voice = batch[0].voice
        encoding = voice.options.get("encoding")
        if not encoding:
            for r in batch:
                yield RenderFailure(r.utt_id, f"voices.toml gives no festival input encoding for {voice.speaker}")
            return
        if voice.voice not in _installed_voices():
            for r in batch:
                yield RenderFailure(r.utt_id, f"festival voice {voice.voice!r} is not installed "
                                              f"(installed: {', '.join(_installed_voices()) or 'none'})")
            return
        canary = voice.options.get("canary")
        todo: list[RenderRequest] = []
        for r in batch:
            try:
                r.text.encode(encoding)
                todo.append(r)
            except UnicodeEncodeError as e:
                yield RenderFailure(r.utt_id, f"text has {e.object[e.start:e.end]!r}, not encodable in "
                                              f"{encoding} (festival voice {voice.voice})")
        if not todo:
            return
        with tempfile.TemporaryDirectory(prefix="multikd-festival-") as tmp:
            tmpdir = Path(tmp)
            lines = [f"(voice_{voice.voice})", _UTT_FN]
            keys = {}
            if canary:
                lines.append(f"(multikd-say {_scheme_string(str(tmpdir / 'canary'))} {_scheme_string(canary)})")
            for i, r in enumerate(todo):
                key = f"u{i:04d}"  # ASCII file stems: ids never pass through festival's encoding
                keys[key] = r
                lines.append(f"(multikd-say {_scheme_string(str(tmpdir / key))} {_scheme_string(r.text)})")
            script = tmpdir / "batch.scm"
            script.write_bytes("\n".join(lines).encode(encoding) + b"\n")
            try:
                proc = subprocess.run(["festival", "-b", str(script)], capture_output=True, cwd=tmpdir,
                                      timeout=10 + TIMEOUT_PER_SENTENCE_S * len(todo))
                stdout, err = proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
                rc = proc.returncode
            except subprocess.TimeoutExpired:
                stdout, err, rc = "", "timed out", -1
            status = {}
            for line in stdout.splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] in ("OK", "FAIL"):
                    status[Path(parts[1]).name] = parts[0]
            wrong = self._check_canary(voice, tmpdir / "canary.lab", encoding) if canary else None
            for key, r in keys.items():
                st = status.get(key)
                if wrong:
                    yield RenderFailure(r.utt_id, wrong)
                    continue
                if st == "OK":
                    yield self._collect(r, tmpdir / f"{key}.wav", tmpdir / f"{key}.lab")
                elif st == "FAIL":
                    yield RenderFailure(r.utt_id, f"festival could not synthesise this text: {_tail(err)}")
                else:
                    yield RenderFailure(r.utt_id, f"festival exited (rc {rc}) before this sentence: {_tail(err)}")

    @staticmethod
    def _check_canary(voice, lab: Path, encoding: str) -> str | None:
        """None when the voice read its canary sentence as voices.toml expects, else why not."""
        if not lab.exists():
            return f"festival voice {voice.voice} failed on its canary sentence (voice package broken?)"
        got = " ".join(p for p, _, _ in read_segs(lab) if not is_pause(p))
        want = " ".join(voice.options.get("canary_phones", "").split())
        if got != want:
            return (f"festival voice {voice.voice} read its canary {voice.options['canary']!r} as [{got[:120]}] "
                    f"instead of [{want}] — input encoding {encoding!r} is probably wrong for this voice")
        return None

    @staticmethod
    def _collect(req: RenderRequest, wav: Path, lab: Path) -> RenderResult | RenderFailure:
        if not wav.exists():
            return RenderFailure(req.utt_id, "festival reported success but wrote no wav")
        req.out_wav.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(wav), req.out_wav)
        info = sf.info(req.out_wav)
        phones = read_segs(lab) if lab.exists() else None
        return RenderResult(req.utt_id, req.out_wav, int(info.samplerate), info.frames / info.samplerate, phones)


def _tail(text: str, n: int = 300) -> str:
    text = " ".join(text.split())
    return text[-n:] if text else "(no message)"
