"""The training loop, on ``accelerate``: the same code on a CPU, one GPU or several (``accelerate launch``).

Several processes: ``accelerate launch --multi_gpu --num_processes N -m multikd.cli.main train-teacher
RECIPE`` on GPUs; on CPUs ``ACCELERATE_USE_CPU=1 torchrun --nproc_per_node N -m multikd.cli.main
train-teacher RECIPE`` (gloo; checked with 2 processes, including resume).

Read top to bottom: data → model → optimizer → resume from the newest complete checkpoint → steps
(gradient accumulation, clipping, learning-rate schedule) with logs, checkpoints and samples → export.

Run folder::

    config.yaml  run.json            resolved recipe; commit, versions, start and resumes, data fingerprints
    symbols.json  norm.json          fixed at the first start: ids and statistics every resume must share
    checkpoints/step-XXXXXXX/        accelerate state + trainer_state.json (see multikd.train.checkpoints)
    tensorboard/                     scalars (losses, lr, grad norm, speed) and sample audio, if installed
    metrics.jsonl                    the same scalars, one JSON line every train.log_every steps
    samples/step-XXXXXXX/            per language: <lang>.wav, <lang>-mel.png, <lang>-alignment.png
    model/                           the exported model: save_pretrained + symbols.json, norm.json, audio.json
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from multikd.errors import ConfigError
from multikd.text.symbols import SymbolTable
from multikd.train.checkpoints import latest_checkpoint
from multikd.recipe import ModelSection, Recipe, TrainSection
from multikd.train.data import MODEL_INPUTS, NormStats, TTSDataset, collate, compute_norm, load_prepared
from multikd.train.runinfo import record_start, write_config
from multikd.train.runstate import RunState
from multikd.train.sampler import BucketBatchSampler

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    stopped_by: str  # "max_steps" or "max_minutes"
    model_dir: Path
    seconds: float  # training wall clock of this invocation


def lr_at(step: int, cfg: TrainSection) -> float:
    """Learning rate of optimizer step ``step`` (0-based): linear warm-up, then the chosen decay."""
    warm = max(cfg.warmup_steps, 1)
    if step < warm:
        return cfg.lr * (step + 1) / warm
    if cfg.schedule == "noam":
        return cfg.lr * math.sqrt(warm / (step + 1))
    if cfg.schedule == "cosine":
        frac = min((step - warm) / max(cfg.max_steps - warm, 1), 1.0)
        return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
    return cfg.lr


def resolve_mixed_precision(choice: str) -> str:
    if choice != "auto":
        return choice
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "no"


def build_model(section: ModelSection, symbols: SymbolTable, norm: NormStats, n_mels: int):
    from multikd.models import AcousticConfig, AcousticModel

    cfg = AcousticConfig.preset(section.preset, vocab_size=len(symbols),
                                phone_features=symbols.feature_matrix().tolist(),
                                n_languages=len(norm.languages), n_speakers=len(norm.speakers),
                                language_names=list(norm.languages), speaker_names=list(norm.speakers),
                                n_mels=n_mels, **section.overrides)
    return AcousticModel(cfg)


def _vocabulary(run_dir: Path, corpus, is_main: bool) -> tuple[SymbolTable, NormStats]:
    """The run's symbols and statistics: computed at the first start, read back on every resume."""
    sym_path, norm_path = run_dir / "symbols.json", run_dir / "norm.json"
    if sym_path.is_file() and norm_path.is_file():
        symbols, norm = SymbolTable.load(sym_path), NormStats.load(norm_path)
        missing = [p for p in corpus.symbols.phones if p not in symbols]
        new_langs = set(corpus.column("language")) - set(norm.languages)
        new_spk = set(corpus.column("speaker")) - set(norm.speakers)
        if missing or new_langs or new_spk:
            raise ConfigError(f"the training data changed since this run started (new phones {missing[:5]}, "
                              f"languages {sorted(new_langs)}, speakers {sorted(new_spk)[:5]})",
                              where=str(run_dir), fix="train into a new --run-dir")
        return symbols, norm
    symbols, norm = corpus.symbols, compute_norm(corpus)
    if is_main:
        symbols.save(sym_path)
        norm.save(norm_path)
    return symbols, norm


def export_model(model, run_dir: Path, symbols: SymbolTable, norm: NormStats, audio,
                 inventories: dict[str, set[str]] | None = None) -> Path:
    """``RUN/model``: everything synthesis needs, swapped in atomically. ``inventories`` (language → the
    phones its training data used) is saved as ``inventories.json``: a later distillation initialises a
    new language's embedding by phone-inventory overlap from it, without the teacher's corpus."""
    final, tmp = run_dir / "model", run_dir / ".model.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    if inventories:
        (tmp / "inventories.json").write_text(json.dumps({k: sorted(v) for k, v in sorted(inventories.items())},
                                                         ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    symbols.save(tmp / "symbols.json")
    norm.save(tmp / "norm.json")
    (tmp / "audio.json").write_text(json.dumps(audio.to_dict(), indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return final


def init_weights(model, model_dir: Path, symbols: SymbolTable, norm: NormStats) -> None:
    """Start ``model`` from the weights of an exported model (``train.init_from``): a warm start or a
    continuation on other hardware. The optimizer, step count and schedule start fresh.

    Raises:
        ConfigError: a folder that is not an exported model, or one with other symbols, languages or
            speakers than this run (its weights would mean other things), or another architecture.
    """
    from multikd.models import AcousticModel

    model_dir = Path(model_dir)
    where = str(model_dir)
    if not (model_dir / "model.safetensors").is_file():
        raise ConfigError("train.init_from is not an exported model (no model.safetensors)", where=where,
                          fix="point it at a RUN/model folder")
    src_symbols, src_norm = SymbolTable.load(model_dir / "symbols.json"), NormStats.load(model_dir / "norm.json")
    if src_symbols != symbols or src_norm.languages != norm.languages or src_norm.speakers != norm.speakers:
        raise ConfigError("train.init_from has other symbols, languages or speakers than this run's data",
                          where=where, fix="start from a model trained on the same prepared corpora")
    src = AcousticModel.from_pretrained(where)
    try:
        model.load_state_dict(src.state_dict(), strict=True)
    except RuntimeError as e:
        raise ConfigError(f"train.init_from has another architecture ({str(e).splitlines()[0]})", where=where,
                          fix="use the same model preset and overrides as the model it starts from") from None
    log.info("weights initialised from %s", model_dir)


def _tensorboard_writer(run_dir: Path):
    """A TensorBoard writer, or None (with one warning) where the tensorboard package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:  # torch's module imports the tensorboard package
        log.warning("TensorBoard is not installed (%s): no tensorboard/ logs in this run; the scalars are still "
                    "written to metrics.jsonl", e)
        return None
    return SummaryWriter(str(run_dir / "tensorboard"))


def clipped_step(accelerator, parameters, optimizer, clip: float, what: str = "") -> float:
    """Clip the gradient norm, step unless it is non-finite, zero the gradients; returns the norm.

    One bad batch must not poison the weights (fp16's scaler handles its own overflows likewise); every
    training loop of multikd steps its optimizers through here.
    """
    grad_norm = float(accelerator.clip_grad_norm_(parameters, clip))
    if math.isfinite(grad_norm):
        optimizer.step()
    else:
        log.warning("non-finite %sgradient norm; optimizer step skipped", what)
    optimizer.zero_grad(set_to_none=True)
    return grad_norm


def start_accelerator(cfg, run_dir: Path):
    """The Accelerator of a run (mixed precision from ``cfg``), its run folder made, seeds set.

    Returns:
        (accelerator, is_main_process).
    """
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    accelerator = Accelerator(mixed_precision=resolve_mixed_precision(cfg.mixed_precision))
    main = accelerator.is_main_process
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()
    set_seed(cfg.seed)
    return accelerator, main


def _optimizer_step(model, optimizer, micro: list[dict], accelerator, clip: float) -> tuple[dict, float]:
    """Forward/backward over the micro-batches (summed gradients), clip, step; returns mean losses, grad norm."""
    totals: dict[str, float] = {}
    for k, batch in enumerate(micro):
        # Only the last micro-batch all-reduces gradients across processes; the others accumulate locally.
        sync = contextlib.nullcontext() if k == len(micro) - 1 else accelerator.no_sync(model)
        with sync:
            out = model(**{name: batch[name].to(accelerator.device) for name in MODEL_INPUTS})
            accelerator.backward(out.loss / len(micro))
        for name, value in {"loss": out.loss, **out.losses}.items():
            totals[name] = totals.get(name, 0.0) + float(value.detach()) / len(micro)
    return totals, clipped_step(accelerator, model.parameters(), optimizer, clip)


def train(recipe: Recipe, run_dir: str | Path, *, progress: bool = True) -> TrainResult:
    """Train (or resume) the model of ``recipe`` in ``run_dir``; see the module docstring for the outputs."""
    from tqdm.auto import tqdm

    cfg = recipe.train
    cfg.validate()
    run_dir = Path(run_dir)
    accelerator, main = start_accelerator(cfg, run_dir)

    # -- data -------------------------------------------------------------------------------------
    folders = recipe.prepared_dirs()
    corpus = load_prepared(folders)
    symbols, norm = _vocabulary(run_dir, corpus, main)
    accelerator.wait_for_everyone()
    dataset = TTSDataset(corpus, symbols, norm)
    sampler = BucketBatchSampler(dataset.lengths, batch_frames=cfg.batch_frames, batch_size=cfg.batch_size,
                                 seed=cfg.seed, num_replicas=accelerator.num_processes,
                                 rank=accelerator.process_index)
    # A private generator: creating a DataLoader iterator must not draw from the global RNG, or a
    # resumed run's dropout masks would differ from an uninterrupted run's.
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate,
                                         num_workers=cfg.num_workers, generator=torch.Generator())

    # -- model and optimizer ----------------------------------------------------------------------
    model = build_model(recipe.model, symbols, norm, corpus.audio.n_mels)
    if cfg.init_from and latest_checkpoint(run_dir) is None:  # a resume takes its weights from the checkpoint
        init_weights(model, recipe.resolve(cfg.init_from), symbols, norm)
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]  # norms and biases
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=tuple(cfg.betas))
    bin_weight = model.config.bin_loss_weight  # switched off until train.bin_loss_start, restored for export
    model, optimizer = accelerator.prepare(model, optimizer)
    core = accelerator.unwrap_model(model)
    n_params = sum(p.numel() for p in decay + no_decay)

    run = RunState(accelerator, run_dir, cfg)
    if main:
        write_config(run_dir, recipe)
        record_start(run_dir, folders, run.step, {
            "device": str(accelerator.device), "num_processes": accelerator.num_processes,
            "mixed_precision": accelerator.mixed_precision, "parameters": n_params,
            "utterances": len(dataset), "languages": norm.languages, "speakers": len(norm.speakers)})
    log.info("%d utterances, %d languages, %d speakers, %d symbols; %.2f M parameters on %s x%d",
             len(dataset), len(norm.languages), len(norm.speakers), len(symbols), n_params / 1e6,
             accelerator.device, accelerator.num_processes)

    writer = _tensorboard_writer(run_dir) if main else None
    metrics_file = open(run_dir / "metrics.jsonl", "a", encoding="utf-8") if main else None
    want_samples = cfg.sample_every >= 0  # -1: never (no front end / soundfile on this machine)
    if want_samples:
        from multikd.train.samples import alignment_items, validation_sentences, write_samples
        from multikd.vocoder import GriffinLim

        sentences = validation_sentences(norm, symbols) if main else []
        align_items = alignment_items(dataset, norm) if main else []
        vocoder = GriffinLim(corpus.audio)
    else:
        log.info("train.sample_every = -1: no validation samples in this run")

    def samples(step: int) -> None:
        if not want_samples:
            return
        if main:
            write_samples(core, run_dir / "samples" / f"step-{step:07d}", sentences,
                          dataset, align_items, norm, symbols, vocoder, accelerator.device, writer, step)
        accelerator.wait_for_everyone()

    # -- steps ------------------------------------------------------------------------------------
    model.train()
    bar = tqdm(total=cfg.max_steps, initial=run.step, unit="step", desc="train", dynamic_ncols=True,
               disable=not (progress and main))
    window_t, window_steps = time.monotonic(), 0
    reason = run.stop_reason()
    while reason is None:
        sampler.set_epoch(run.epoch, skip=run.batch_in_epoch)
        micro = []
        for batch in loader:
            run.next_batch()
            micro.append(batch)
            if len(micro) < cfg.grad_accum:
                continue
            for group in optimizer.param_groups:
                group["lr"] = lr_at(run.step, cfg)
            core.config.bin_loss_weight = bin_weight if run.step >= cfg.bin_loss_start else 0.0
            losses, grad_norm = _optimizer_step(model, optimizer, micro, accelerator, cfg.clip)
            micro = []
            run.step_done()
            step = run.step
            window_steps += 1
            bar.set_postfix(loss=f"{losses['loss']:.3f}", epoch=run.epoch, refresh=False)
            bar.update(1)
            if main and step % cfg.log_every == 0:
                now = time.monotonic()
                rate = window_steps / max(now - window_t, 1e-9)
                lr = optimizer.param_groups[0]["lr"]
                if writer is not None:
                    for name, value in losses.items():
                        writer.add_scalar(f"train/{name}", value, step)
                    writer.add_scalar("train/lr", lr, step)
                    writer.add_scalar("train/grad_norm", grad_norm, step)
                    writer.add_scalar("speed/steps_per_s", rate, step)
                metrics_file.write(json.dumps({"step": step, "elapsed_s": round(run.elapsed(), 1), **losses, "lr": lr,
                                               "grad_norm": grad_norm, "steps_per_s": rate}) + "\n")
                metrics_file.flush()
                if not progress:  # without a bar, the log is the progress report
                    parts = " ".join(f"{k}={v:.3f}" for k, v in losses.items() if k != "loss")
                    log.info("step %d loss %.3f (%s) %.2f steps/s", step, losses["loss"], parts, rate)
                window_t, window_steps = now, 0
            if cfg.sample_every > 0 and step % cfg.sample_every == 0:
                samples(step)
            reason = run.stop_reason()
            if reason:
                break
        else:
            # Micro-batches left at the end of an epoch (fewer than grad_accum) are dropped: at most
            # grad_accum - 1 batches per epoch, and the next epoch reshuffles them in.
            run.next_epoch()
    bar.close()
    run.finish()
    step = run.step
    if not (cfg.sample_every > 0 and step % cfg.sample_every == 0):
        samples(step)
    model_dir = run_dir / "model"
    core.config.bin_loss_weight = bin_weight
    if main:
        export_model(core, run_dir, symbols, norm, corpus.audio, corpus.phone_inventories())
        if writer is not None:
            writer.close()
        metrics_file.close()
        log.info("stopped by %s at step %d; model in %s", reason, step, model_dir)
    accelerator.wait_for_everyone()
    return TrainResult(run_dir, step, reason, model_dir, run.session_seconds())
