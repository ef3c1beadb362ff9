"""Where a training run is, and when it saves and stops: the bookkeeping every training loop shares.

The teacher loop (:mod:`multikd.train.loop`), the distillation loop (:mod:`multikd.distill.trainer`) and
the vocoder loop (:mod:`multikd.vocoder.train`) differ in their steps; they share this: the step / epoch /
batch-in-epoch counters a checkpoint restores (so a resumed run continues the same batch order), the wall
time summed across resumes, the stop reasons (``max_steps``, ``max_minutes``; with several processes all
stop at the same step, or a distributed run would hang), and checkpoints on ``save_every`` and at the end.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from multikd.train.checkpoints import latest_checkpoint, load_checkpoint, save_checkpoint

log = logging.getLogger(__name__)


class RunState:
    """Counters and clock of one run in ``run_dir``, resumed from its latest checkpoint if there is one.

    Create it after ``accelerator.prepare`` (a checkpoint restores prepared models and optimizers). ``cfg``
    needs ``max_steps``, ``max_minutes``, ``save_every`` and ``keep_last``.
    """

    def __init__(self, accelerator, run_dir: str | Path, cfg):
        self.accelerator, self.run_dir, self.cfg = accelerator, Path(run_dir), cfg
        state = {"step": 0, "epoch": 0, "batch_in_epoch": 0, "elapsed_s": 0.0}
        self.resumed_from = latest_checkpoint(self.run_dir)
        if self.resumed_from is not None:
            state = load_checkpoint(accelerator, self.resumed_from)
            log.info("resumed from %s (step %d)", self.resumed_from, state["step"])
        self.step, self.epoch, self.batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        self._elapsed0, self._t0 = state["elapsed_s"], time.monotonic()
        self._last_saved = self.step if self.resumed_from is not None else -1

    def elapsed(self) -> float:
        """Seconds of training in this run, earlier sessions included."""
        return self._elapsed0 + time.monotonic() - self._t0

    def session_seconds(self) -> float:
        return time.monotonic() - self._t0

    def stop_reason(self) -> str | None:
        """``"max_steps"``, ``"max_minutes"`` or None; the same answer in every process."""
        cfg, reason = self.cfg, None
        if cfg.max_steps is not None and self.step >= cfg.max_steps:
            reason = "max_steps"
        elif cfg.max_minutes is not None and self.elapsed() >= 60 * cfg.max_minutes:
            reason = "max_minutes"
        if self.accelerator.num_processes > 1:  # clocks differ: all processes stop at the same step or none
            flag = self.accelerator.reduce(torch.tensor([reason is not None], device=self.accelerator.device).float(),
                                           "max")
            reason = reason or ("max_minutes" if flag.item() else None)
        return reason

    def next_batch(self) -> None:
        self.batch_in_epoch += 1

    def next_epoch(self) -> None:
        self.epoch, self.batch_in_epoch = self.epoch + 1, 0

    def step_done(self) -> None:
        """Count an optimizer step; checkpoint when it is a multiple of ``save_every``."""
        self.step += 1
        if self.step % self.cfg.save_every == 0:
            self.save()

    def save(self) -> None:
        save_checkpoint(self.accelerator, self.run_dir, {"step": self.step, "epoch": self.epoch,
                                                         "batch_in_epoch": self.batch_in_epoch,
                                                         "elapsed_s": self.elapsed()}, self.cfg.keep_last)
        self._last_saved = self.step

    def finish(self) -> None:
        """The final checkpoint, unless the last step was just saved."""
        if self._last_saved != self.step:
            self.save()
