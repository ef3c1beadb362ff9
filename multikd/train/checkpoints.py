"""Checkpoints under ``RUN/checkpoints/step-XXXXXXX``: complete or absent, never half-written.

A checkpoint is written by ``accelerator.save_state`` (model, optimizer, grad scaler, every process's RNG
states) into ``.step-XXXXXXX.tmp``; then ``trainer_state.json`` (step, epoch, position in the epoch,
elapsed time) is written last and the folder is renamed into place. A rename within one filesystem is
atomic, so a process killed at any moment leaves either the previous checkpoints or the new one: resume
picks the newest folder whose name parses and that holds ``trainer_state.json``. Leftover ``.tmp`` folders
are removed.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

STATE_FILE = "trainer_state.json"
_NAME = re.compile(r"^step-(\d{7,})$")


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints as (step, folder), oldest first."""
    root = checkpoint_dir(run_dir)
    out = []
    for p in root.glob("step-*") if root.is_dir() else []:
        m = _NAME.match(p.name)
        if m and (p / STATE_FILE).is_file():
            out.append((int(m.group(1)), p))
    return sorted(out)


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1][1] if found else None


def read_state(path: Path) -> dict:
    return json.loads((Path(path) / STATE_FILE).read_text(encoding="utf-8"))


def save_checkpoint(accelerator, run_dir: Path, state: dict, keep_last: int) -> Path:
    """Save the full training state at ``state["step"]``; every process must call this.

    Returns:
        the final checkpoint folder.
    """
    root = checkpoint_dir(run_dir)
    final = root / f"step-{state['step']:07d}"
    tmp = root / f".{final.name}.tmp"
    if accelerator.is_main_process:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        with open(tmp / STATE_FILE, "w", encoding="utf-8") as fh:
            json.dump(state, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())  # the marker of completeness must not reach the disk after the rename
        shutil.rmtree(final, ignore_errors=True)  # the same step saved again (a finished run re-exported)
        os.replace(tmp, final)
        for _, old in list_checkpoints(run_dir)[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)
        for stale in root.glob(".step-*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)  # from a process killed mid-save
        log.info("checkpoint %s", final)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(accelerator, path: Path) -> dict:
    """Restore model, optimizer, scaler and RNG states from ``path``; returns its trainer state."""
    accelerator.load_state(str(path))
    return read_state(path)
