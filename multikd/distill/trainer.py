"""The distillation run: setup (:mod:`multikd.distill.setup`), teacher targets written once, then training
steps on ``accelerate`` with the project's checkpoint, run-record and export machinery.

The three modes share data, steps, seed and this code; they differ only where the mode says so:

==========  =====================  ==========================================================
mode        student init           loss
==========  =====================  ==========================================================
scratch     random                 ground truth (own aligner)
finetune    from the teacher       ground truth (own aligner)
distill     from the teacher       w_gt·GT + w_seq·seq-KD + w_soft·soft + w_feat·feat + w_dom·domain,
                                   on teacher targets (audio rows + target text without audio)
adapt       the teacher itself     ground truth: the extended teacher fine-tuned on the target data
==========  =====================  ==========================================================

With ``distill.adapt_steps > 0`` a distill run first runs (or resumes, or reuses) a nested ``adapt`` run in
``RUN/teacher-adapted`` with that many steps, then initialises the student from the adapted teacher and
takes every teacher target and feature from it. Without it, KD targets come from the teacher speaking the
new language zero-shot, which on the demo data is worse than the recordings themselves.

Run folder: like ``train-teacher``'s (``config.yaml``, ``run.json``, ``symbols.json``, ``norm.json``,
``checkpoints/``, ``tensorboard/``, ``model/``) plus ``unseen_phones.json`` and ``targets/`` (distill).
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from multikd.distill import losses as L
from multikd.distill import newlang, setup
from multikd.distill.data import TargetDataset, collate_targets
from multikd.distill.init import layer_map
from multikd.distill.recipe import DistillRecipe
from multikd.distill.targets import audio_targets, load_targets, targets_exist, text_targets, write_targets
from multikd.errors import ConfigError
from multikd.text.symbols import SymbolTable
from multikd.train.data import MODEL_INPUTS, NormStats, TTSDataset, collate, load_prepared
from multikd.train.loop import TrainResult, clipped_step, export_model, lr_at, resolve_mixed_precision
from multikd.train.runinfo import record_start, write_config
from multikd.train.runstate import RunState
from multikd.train.sampler import BucketBatchSampler

log = logging.getLogger(__name__)


class DistillModule(nn.Module):
    """What the optimizer trains: the student and (distill with ``feat``) the feature adapters."""

    def __init__(self, student, adapters: L.FeatureAdapters | None):
        super().__init__()
        self.student = student
        self.adapters = adapters


def default_feature_layers(teacher_cfg, student_cfg) -> dict[str, str]:
    """Each student block ↔ the teacher block it was initialised from."""
    pairs = {}
    for part, nt, ns in (("encoder", teacher_cfg.encoder_layers, student_cfg.encoder_layers),
                         ("decoder", teacher_cfg.decoder_layers, student_cfg.decoder_layers)):
        pairs.update({f"{part}.{i}": f"{part}.{j}" for i, j in enumerate(layer_map(nt, ns))})
    return pairs


def _text_items(recipe, corpus, sentences, symbols, norm) -> list[dict]:
    """Model inputs for the teacher to speak: the target language, ``distill.text_speaker`` (default: the
    first target speaker)."""
    d = recipe.distill
    if not sentences:
        return []
    lang = sorted(set(corpus.column("language")))[0]
    speaker = d.text_speaker or sorted(set(corpus.column("speaker")))[0]
    if speaker not in norm.speakers:
        raise ConfigError(f"distill.text_speaker {speaker!r} is unknown", fix=f"one of {', '.join(norm.speakers)}")
    return [{"id": f"text-{k:05d}", "language": lang, "speaker": speaker, "text": text, "phones": phones,
             "phone_ids": symbols.encode(phones), "language_id": norm.languages.index(lang),
             "speaker_id": norm.speakers.index(speaker)} for k, (text, phones) in enumerate(sentences)]


def _step_losses(mode, module, extended, batch, recipe, source_iter) -> tuple[torch.Tensor, dict]:
    """The weighted loss of one batch and its named parts (floats for logging)."""
    d, student = recipe.distill, module.student
    w = d.effective_weights()
    inputs = {k: batch[k] for k in MODEL_INPUTS}
    if mode != "distill":
        out = student(**inputs)
        parts = L.gt_loss(student, out, batch, torch.ones(len(batch["ids"]), dtype=torch.bool))
        return parts["gt"], {k: float(v.detach()) for k, v in parts.items()}
    need_states = w.feat > 0
    out = student(**inputs, durations=batch["durations"], output_hidden_states=need_states)
    terms, logs = {}, {}
    if w.gt > 0 and bool(batch["has_gt"].any()):
        parts = L.gt_loss(student, out, batch, batch["has_gt"])
        terms["gt"], logs["gt_mel"] = parts["gt"], float(parts["gt_mel"])
    if w.seq_kd > 0:
        parts = L.seq_kd_loss(student, out, batch)
        terms["seq_kd"], logs["seq_kd_mel"] = parts["seq_kd"], float(parts["seq_kd_mel"])
    if w.soft > 0:
        terms["soft"] = L.soft_targets(out, batch, d.temperature)
    if w.feat > 0:
        with torch.no_grad():
            t_out = extended(**inputs, durations=batch["durations"], output_hidden_states=True)
        terms["feat"] = module.adapters(out, t_out)
    if w.domain > 0:
        src = next(source_iter)
        feats = []
        for b in (batch, src):
            mask = torch.arange(b["phone_ids"].shape[1])[None] < b["text_lengths"][:, None]
            enc, _ = student.encoder(student.embed(b["phone_ids"]) * mask[..., None], mask)
            feats.append(L.pooled_features(enc, mask))
        terms["domain"] = L.DOMAIN_LOSSES[d.domain_kind](feats[0], feats[1])
    loss = sum(getattr(w, k) * v for k, v in terms.items())
    logs.update({k: float(v.detach()) for k, v in terms.items()})
    return loss, logs


def _adapted_teacher(recipe: DistillRecipe, adapt_dir: Path, minutes: float | None, progress: bool):
    """Run (or resume, or reuse) the nested ``adapt`` run and load its model as the frozen teacher."""
    import copy

    from multikd.models import AcousticModel

    sub = copy.deepcopy(recipe)
    sub.distill.mode = "adapt"
    sub.train.max_steps, sub.train.max_minutes = recipe.distill.adapt_steps, None
    sub.train.lr = recipe.distill.adapt_lr or recipe.train.lr
    sub.train.save_every = min(sub.train.save_every, recipe.distill.adapt_steps)
    log.info("teacher adaptation: %d steps on the target data in %s", recipe.distill.adapt_steps, adapt_dir)
    result = distill(sub, adapt_dir, mode="adapt", minutes=minutes, progress=progress)
    return AcousticModel.from_pretrained(str(result.model_dir)).eval().requires_grad_(False)


def _cycle(loader):
    while True:
        yield from loader


def distill(recipe: DistillRecipe, run_dir: str | Path, *, mode: str | None = None, minutes: float | None = None,
            progress: bool = True) -> TrainResult:
    """Train (or resume) the student of ``recipe`` in ``run_dir``; see the module docstring."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm

    d, cfg = recipe.distill, recipe.train
    if mode:
        d.mode = mode
    d.validate()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    accelerator = Accelerator(mixed_precision=resolve_mixed_precision(cfg.mixed_precision), cpu=not torch.cuda.is_available())
    set_seed(cfg.seed)

    teacher = setup.load_teacher(recipe.resolve(d.teacher))
    corpus = setup.target_corpus(recipe.prepared_dirs(), minutes, recipe.data.seed)
    if corpus.audio != teacher.audio:
        raise ConfigError("the target data was prepared with other audio settings than the teacher's",
                          where=str(recipe.prepared_dirs()[0]), fix="prepare it with the teacher's audio section")
    # The text file's phones enter the vocabulary in every mode, so all three share one symbol table.
    sentences = []
    if d.text_file:
        langs = sorted(set(corpus.column("language")))
        if len(langs) != 1:
            raise ConfigError(f"distill.text_file needs one target language, the data has {langs}")
        sentences = setup.read_text_file(recipe.resolve(d.text_file), langs[0], d.max_text_sentences)
    symbols, norm, unseen = setup.vocabulary(teacher, corpus, [ph for _, ph in sentences])
    if (run_dir / "symbols.json").is_file():  # a resume: ids and statistics are fixed at the first start
        if SymbolTable.load(run_dir / "symbols.json") != symbols:
            raise ConfigError("the data changed since this run started", where=str(run_dir), fix="use a new --run-dir")
        norm = NormStats.load(run_dir / "norm.json")
    symbols.save(run_dir / "symbols.json")
    norm.save(run_dir / "norm.json")
    sources = [recipe.resolve(p) for p in d.source_prepared]
    extended, init_report = setup.extend_teacher(teacher, symbols, norm, unseen, corpus, d, setup.inventories(sources, teacher.path))
    newlang.write_report(run_dir / "unseen_phones.json", unseen, init_report["language"], init_report["speaker"])
    if d.mode == "distill" and d.adapt_steps > 0:
        extended = _adapted_teacher(recipe, run_dir / "teacher-adapted", minutes, progress)
    gt = TTSDataset(corpus, symbols, norm)
    student, P = setup.make_student(recipe.model, extended, symbols, norm, gt, d.mode, d.init_batches,
                                    cfg.batch_size or 8, cfg.seed)

    if d.mode == "distill":
        tdir = recipe.resolve(d.targets_dir) if d.targets_dir else run_dir / "targets"
        if not targets_exist(tdir):
            rows = audio_targets(extended, gt) + text_targets(extended, _text_items(recipe, corpus, sentences, symbols, norm))
            write_targets(tdir, rows, d.confidence_threshold, extended.config.n_mels, extended.config.n_bins)
        dataset, collate_fn = TargetDataset(load_targets(tdir), gt, symbols, norm), collate_targets
    else:
        dataset, collate_fn = gt, collate
    w = d.effective_weights()
    adapters = None
    if w.feat > 0:
        pairs = d.feature_layers or default_feature_layers(extended.config, student.config)
        adapters = L.FeatureAdapters(pairs, student.config.hidden, extended.config.hidden, P)
    source_iter = None
    if w.domain > 0:
        src = TTSDataset(load_prepared(sources), symbols, norm)
        source_iter = _cycle(torch.utils.data.DataLoader(src, batch_size=cfg.batch_size or 8, shuffle=True,
                                                         collate_fn=collate, generator=torch.Generator().manual_seed(cfg.seed)))
    sampler = BucketBatchSampler(dataset.lengths, batch_frames=cfg.batch_frames, batch_size=cfg.batch_size, seed=cfg.seed)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_fn,
                                         num_workers=cfg.num_workers, generator=torch.Generator())

    module = DistillModule(student, adapters)
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
                                   {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
                                  lr=cfg.lr, betas=tuple(cfg.betas))
    module, optimizer = accelerator.prepare(module, optimizer)
    core = accelerator.unwrap_model(module)
    extended.to(accelerator.device)
    run = RunState(accelerator, run_dir, cfg)
    n_student = sum(p.numel() for p in core.student.parameters())
    write_config(run_dir, recipe)
    record_start(run_dir, recipe.prepared_dirs(), run.step, {
        "mode": d.mode, "minutes": minutes, "teacher": str(teacher.path), "student_parameters": n_student,
        "teacher_parameters": sum(p.numel() for p in teacher.model.parameters()), "utterances": len(dataset),
        "weights": vars(w), "device": str(accelerator.device)})
    log.info("%s: %d items, student %.2f M parameters", d.mode, len(dataset), n_student / 1e6)

    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(run_dir / "tensorboard"))
    bin_weight = core.student.config.bin_loss_weight

    module.train()
    bar = tqdm(total=cfg.max_steps, initial=run.step, unit="step", desc=d.mode, disable=not progress)
    reason = run.stop_reason()
    while reason is None:
        sampler.set_epoch(run.epoch, skip=run.batch_in_epoch)
        for batch in loader:
            run.next_batch()
            batch = {k: v.to(accelerator.device) if torch.is_tensor(v) else v for k, v in batch.items()}
            for group in optimizer.param_groups:
                group["lr"] = lr_at(run.step, cfg)
            core.student.config.bin_loss_weight = bin_weight if run.step >= cfg.bin_loss_start else 0.0
            loss, logs = _step_losses(d.mode, core, extended, batch, recipe, source_iter)
            accelerator.backward(loss)
            grad_norm = clipped_step(accelerator, module.parameters(), optimizer, cfg.clip)
            run.step_done()
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}", refresh=False)
            if run.step % cfg.log_every == 0:
                writer.add_scalar("train/loss", float(loss.detach()), run.step)
                for k, v in logs.items():
                    writer.add_scalar(f"train/{k}", v, run.step)
                writer.add_scalar("train/grad_norm", grad_norm, run.step)
                if not progress:
                    log.info("%s step %d loss %.3f", d.mode, run.step, float(loss.detach()))
            reason = run.stop_reason()
            if reason:
                break
        else:
            run.next_epoch()
    bar.close()
    run.finish()
    core.student.config.bin_loss_weight = bin_weight
    model_dir = export_model(core.student, run_dir, symbols, norm, corpus.audio)
    writer.close()
    log.info("%s stopped by %s at step %d; model in %s", d.mode, reason, run.step, model_dir)
    return TrainResult(run_dir, run.step, reason, model_dir, run.session_seconds())
