"""Vocoder training on ``accelerate``: GAN training of a :class:`VocosGenerator`, or its distillation.

The recipe (one YAML, ``multikd train-vocoder RECIPE``)::

    name: demo-vocoder
    data: {card: unused, prepared: [../../out/demo/prepared/teacher]}   # the wavs of prepared folders
    vocoder: {size: large}                 # or size: small + distill_from: ../../runs/demo-vocoder/large
    train: {batch_size: 16, max_steps: 200000}

Each step takes random ``segment_frames``-frame segments of the prepared wavs, computes their ln-mel with
the corpus' audio settings, and trains generator and discriminators (:mod:`multikd.vocoder.discriminators`)
with the least-squares GAN, feature-matching and reconstruction losses (:mod:`multikd.vocoder.losses`).

Distillation (``vocoder.distill_from``): a frozen trained vocoder vocodes the same mel and its output is
the target: mel, multi-resolution STFT and waveform L1 to it (same phase, so the sample L1 is meaningful),
and feature matching of the discriminators' features of the student's output to those of the teacher's.
The discriminators start from the teacher's and keep training against the recordings.

The run folder follows :mod:`multikd.train.loop`: ``config.yaml``, ``run.json``, ``checkpoints/`` (atomic,
auto-resume), ``tensorboard/``, and at the end ``model/`` (the vocoder: config.json + model.safetensors +
audio.json, loadable with ``load_vocoder(RUN/model, audio)``), ``discriminator/`` (for a later
distillation) and ``sample.wav``.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from multikd.audio.config import AudioConfig
from multikd.config import load_config
from multikd.errors import ConfigError, CorpusError
from multikd.recipe import DataSelection, Recipe
from multikd.train.data import TRAIN_SPLITS
from multikd.train.loop import TrainResult, clipped_step, start_accelerator
from multikd.train.runstate import RunState
from multikd.train.runinfo import record_start, write_config
from multikd.vocoder import discriminators as D
from multikd.vocoder.losses import mel_l1, multi_resolution_stft, waveform_l1
from multikd.vocoder.packed import PackedAudio, is_packed_audio, provide_mel_basis
from multikd.vocoder.vocos import VocosConfig, VocosGenerator

log = logging.getLogger(__name__)


@dataclass
class VocoderSection:
    size: str = "large"  # a VOCOS_PRESETS key: large (teacher vocoder) | small (student) | tiny (tests)
    overrides: dict = field(default_factory=dict)  # VocosConfig fields that replace the preset's
    # A trained vocoder run folder (its model/ and discriminator/) or model folder: distil from it.
    distill_from: str | None = None
    # 32 frames = 8192 samples = 0.37 s (HiFi-GAN's segment): long enough for several pitch periods of
    # the lowest voices in every period discriminator, short enough for large batches.
    segment_frames: int = 32
    discriminator_channels: int = 32  # HiFi-GAN width; tests shrink it
    # Steps of reconstruction-only training before the GAN starts: the discriminators learn nothing from
    # noise, and a warm generator makes their early gradients meaningful.
    disc_start: int = 0
    # HiFi-GAN's balance: mel 45, feature matching 2, adversarial 1.
    mel_weight: float = 45.0
    stft_weight: float = 1.0
    fm_weight: float = 2.0
    adv_weight: float = 1.0
    # Distillation only: sample L1 to the teacher's output, and a mel L1 to the recording that keeps the
    # student anchored to real speech where the teacher is wrong.
    wav_weight: float = 10.0
    ground_truth_mel_weight: float = 5.0


@dataclass
class VocoderTrainSection:
    batch_size: int = 16
    lr: float = 2e-4
    betas: tuple[float, float] = (0.8, 0.99)  # HiFi-GAN/Vocos: a short memory suits the moving GAN target
    # Exponential decay per 1000 steps (HiFi-GAN decays 0.999 per epoch of ~1000 steps on LJSpeech).
    lr_decay: float = 0.999
    max_steps: int | None = 500_000
    max_minutes: float | None = None
    clip: float = 1000.0  # only guards against explosions; GAN gradients are legitimately large
    mixed_precision: str = "no"  # GAN training in fp16 is fragile; bf16 on a GPU is fine ("auto")
    save_every: int = 1000
    keep_last: int = 3
    log_every: int = 25
    seed: int = 0
    num_workers: int = 0

    def validate(self, where: str = "train") -> None:
        problems = [
            ("max_steps", self.max_steps is not None or self.max_minutes is not None, "set max_steps or max_minutes"),
            ("batch_size", self.batch_size >= 1, "must be >= 1"),
            ("lr_decay", 0 < self.lr_decay <= 1, "must be in (0, 1]"),
            ("mixed_precision", self.mixed_precision in ("auto", "no", "bf16", "fp16"), "use auto, no, bf16 or fp16"),
            ("save_every", self.save_every >= 1, "must be >= 1"),
            ("keep_last", self.keep_last >= 1, "must be >= 1"),
        ]
        for key, ok, fix in problems:
            if not ok:
                raise ConfigError(f"bad setting train.{key}", where=where, fix=fix)


@dataclass
class VocoderRecipe:
    name: str
    data: DataSelection
    vocoder: VocoderSection = field(default_factory=VocoderSection)
    train: VocoderTrainSection = field(default_factory=VocoderTrainSection)
    base_dir: Path = field(default=Path("."), init=False, repr=False)

    # Path rules are the acoustic recipe's: relative to the recipe file, default runs/<name>/prepared.
    resolve = Recipe.resolve
    prepared_dirs = Recipe.prepared_dirs


def load_vocoder_recipe(path: str | Path, overrides: list[str] | None = None) -> VocoderRecipe:
    recipe = load_config(VocoderRecipe, path, overrides)
    recipe.base_dir = Path(path).resolve().parent
    recipe.train.validate(where=str(path))
    return recipe


class SegmentDataset(torch.utils.data.Dataset):
    """Random fixed-length segments of the training wavs of prepared folders: ``[segment_samples]`` float32.

    The segment offset is drawn from ``(seed, epoch, index)``, not the global RNG, so a resumed run reads
    the same segments as an uninterrupted one. Shorter files are zero-padded at the end.

    Raises:
        CorpusError: a folder that is not prepared, folders with different audio settings, no wav.
    """

    def __init__(self, folders: list[Path], segment_frames: int, seed: int):
        self.files, self.lengths, self.audio = [], [], None
        self.packed: list[tuple] = []  # (PackedAudio, index) per item of a packed folder, else empty
        for folder in folders:
            packed = is_packed_audio(folder)
            if not packed and not (folder / "dataset").is_dir():
                raise CorpusError("not a prepared corpus (no dataset/ folder)", where=str(folder),
                                  fix="run `multikd prepare RECIPE --out DIR` and list DIR under data.prepared")
            a = AudioConfig.from_dict(json.loads((folder / "config.json").read_text(encoding="utf-8")).get("audio"),
                                      where=str(folder / "config.json"))
            if self.audio is not None and a != self.audio:
                raise CorpusError("prepared with other audio settings than the first folder", where=str(folder))
            self.audio = a
            if packed:  # python -m multikd.vocoder.packed: int16 wavs in memory, no datasets/soundfile
                pa = PackedAudio(folder)
                provide_mel_basis(a, pa.mel_basis)
                for i, n in enumerate(pa.lengths):
                    self.files.append(folder / pa.items[i]["id"])
                    self.lengths.append(n)
                    self.packed.append((pa, i))
                continue
            import datasets as hfd
            import soundfile as sf

            ds = hfd.load_from_disk(str(folder / "dataset")).select_columns(["wav", "split"])
            for rel, split in zip(ds["wav"], ds["split"]):
                if split in TRAIN_SPLITS:
                    self.files.append(folder / rel)
                    self.lengths.append(sf.info(str(folder / rel)).frames)
                    self.packed.append(None)
        if not self.files:
            raise CorpusError("no training wav in the prepared folders", where=", ".join(map(str, folders)))
        self.segment = segment_frames * self.audio.hop_length
        self.seed, self.epoch = seed, 0

    def __len__(self) -> int:
        return len(self.files)

    def read(self, i: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Samples ``start:stop`` of item ``i`` as float32 in [-1, 1]."""
        stop = self.lengths[i] if stop is None else stop
        if self.packed[i] is not None:
            pa, j = self.packed[i]
            return pa[j][start:stop].astype(np.float32) / 32768.0  # soundfile's int16 → float scale
        import soundfile as sf

        wav, _ = sf.read(str(self.files[i]), start=start, stop=stop, dtype="float32")
        return wav

    def __getitem__(self, i: int) -> torch.Tensor:
        n = self.lengths[i]
        start = int(np.random.default_rng([self.seed, self.epoch, i]).integers(0, max(n - self.segment, 0) + 1))
        wav = self.read(i, start, min(start + self.segment, n))
        out = torch.zeros(self.segment)
        out[: len(wav)] = torch.from_numpy(wav)
        return out


def _load_teacher(spec: Path, audio: AudioConfig, channels: int):
    """A frozen teacher generator and (if the run folder has them) its discriminators' weights."""
    from safetensors.torch import load_file

    model_dir = spec / "model" if (spec / "model" / "config.json").is_file() else spec
    if not (model_dir / "config.json").is_file():
        raise ConfigError("not a trained vocoder (no config.json)", where=str(spec),
                          fix="vocoder.distill_from names a train-vocoder run folder or its model/ folder")
    teacher = VocosGenerator.from_pretrained(str(model_dir)).eval().requires_grad_(False)
    teacher.config.check_audio(audio, where=str(model_dir))
    disc_file = spec / "discriminator" / "model.safetensors"
    disc_state = None
    if disc_file.is_file():
        saved = json.loads((spec / "discriminator" / "config.json").read_text(encoding="utf-8"))
        if saved.get("channels") == channels:
            disc_state = load_file(str(disc_file))
    if disc_state is None:
        log.warning("no matching discriminators in %s: the student's start from scratch", spec)
    return teacher, disc_state


def export_vocoder(generator, discriminators, run_dir: Path, audio: AudioConfig, channels: int) -> Path:
    """``RUN/model`` (generator + audio.json) and ``RUN/discriminator``, each swapped in atomically."""
    from safetensors.torch import save_file

    for name in ("model", "discriminator"):
        final, tmp = run_dir / name, run_dir / f".{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if name == "model":
            generator.save_pretrained(str(tmp))
            (tmp / "audio.json").write_text(json.dumps(audio.to_dict(), indent=1) + "\n", encoding="utf-8")
        else:
            save_file({k: v.detach().cpu().contiguous() for k, v in discriminators.state_dict().items()},
                      str(tmp / "model.safetensors"))
            (tmp / "config.json").write_text(json.dumps({"channels": channels}) + "\n", encoding="utf-8")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    return run_dir / "model"


def train_vocoder(recipe: VocoderRecipe, run_dir: str | Path, *, progress: bool = True) -> TrainResult:
    """Train (or resume) the vocoder of ``recipe`` in ``run_dir``; see the module docstring."""
    from tqdm.auto import tqdm

    from multikd.audio.features import log_mel

    cfg, vc = recipe.train, recipe.vocoder
    run_dir = Path(run_dir)
    accelerator, main = start_accelerator(cfg, run_dir)

    folders = recipe.prepared_dirs()
    data = SegmentDataset(folders, vc.segment_frames, cfg.seed)
    audio = data.audio
    generator = VocosGenerator(VocosConfig.preset(vc.size, audio, **vc.overrides))
    discs = D.Discriminators(vc.discriminator_channels)
    teacher = None
    if vc.distill_from:
        teacher, disc_state = _load_teacher(recipe.resolve(vc.distill_from), audio, vc.discriminator_channels)
        if disc_state is not None:
            discs.load_state_dict(disc_state)
        teacher.to(accelerator.device)
    opt_g = torch.optim.AdamW(generator.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
    opt_d = torch.optim.AdamW(discs.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
    generator, discs, opt_g, opt_d = accelerator.prepare(generator, discs, opt_g, opt_d)
    core = accelerator.unwrap_model(generator)

    run = RunState(accelerator, run_dir, cfg)
    n_params = sum(p.numel() for p in core.parameters())
    if main:
        write_config(run_dir, recipe)
        record_start(run_dir, folders, run.step, {
            "device": str(accelerator.device), "num_processes": accelerator.num_processes,
            "vocoder_parameters": n_params, "wavs": len(data), "distill_from": vc.distill_from})
    log.info("%d wavs; %s vocoder with %.2f M parameters%s on %s", len(data), vc.size, n_params / 1e6,
             f", distilled from {vc.distill_from}" if teacher is not None else "", accelerator.device)
    writer = None
    if main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir / "tensorboard"))

    def gan_step(wav: torch.Tensor) -> dict[str, float]:
        """One discriminator and one generator update on ``wav [B, S]``; returns the losses."""
        mel = log_mel(wav, audio).transpose(1, 2)  # [B, T, n_mels], T = S / hop + 1
        fake = generator(mel)  # [B, S]
        target = wav
        if teacher is not None:
            with torch.no_grad():
                target = teacher(mel)
        gan = run.step >= vc.disc_start
        out: dict[str, torch.Tensor] = {}
        if gan:
            real_logits, _ = discs(wav)
            fake_logits, _ = discs(fake.detach())
            out["disc"] = D.discriminator_loss(real_logits, fake_logits)
            accelerator.backward(out["disc"])
            accelerator.clip_grad_norm_(discs.parameters(), cfg.clip)
            opt_d.step()
            opt_d.zero_grad(set_to_none=True)
        out["mel"] = mel_l1(fake, target, audio)
        out["stft"] = multi_resolution_stft(fake, target)
        g_loss = vc.mel_weight * out["mel"] + vc.stft_weight * out["stft"]
        if teacher is not None:
            out["wav"] = waveform_l1(fake, target)
            out["mel_ground_truth"] = mel_l1(fake, wav, audio)
            g_loss = g_loss + vc.wav_weight * out["wav"] + vc.ground_truth_mel_weight * out["mel_ground_truth"]
        if gan:
            fake_logits, fake_fmaps = discs(fake)
            with torch.no_grad():
                _, target_fmaps = discs(target)
            out["adv"] = D.generator_adversarial_loss(fake_logits)
            out["fm"] = D.feature_matching_loss(target_fmaps, fake_fmaps)
            g_loss = g_loss + vc.adv_weight * out["adv"] + vc.fm_weight * out["fm"]
        out["gen"] = g_loss
        accelerator.backward(g_loss)
        clipped_step(accelerator, generator.parameters(), opt_g, cfg.clip, what="generator ")
        return {k: float(v.detach()) for k, v in out.items()}

    generator.train()
    discs.train()
    bar = tqdm(total=cfg.max_steps, initial=run.step, unit="step", desc="vocoder", disable=not (progress and main))
    reason = run.stop_reason()
    while reason is None:
        data.epoch = run.epoch
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(cfg.seed + run.epoch)).tolist()
        # Each process takes its own share of the epoch (the loader is not accelerate-prepared).
        order = order[accelerator.process_index::accelerator.num_processes][run.batch_in_epoch * cfg.batch_size:]
        loader = torch.utils.data.DataLoader(data, batch_size=cfg.batch_size, sampler=order, drop_last=True,
                                             num_workers=cfg.num_workers)
        for wav in loader:
            run.next_batch()
            lr = cfg.lr * cfg.lr_decay ** (run.step / 1000)
            for opt in (opt_g, opt_d):
                for group in opt.param_groups:
                    group["lr"] = lr
            losses = gan_step(wav.to(accelerator.device))
            run.step_done()
            step = run.step
            bar.set_postfix(gen=f"{losses['gen']:.3f}", mel=f"{losses['mel']:.3f}", refresh=False)
            bar.update(1)
            if writer is not None and step % cfg.log_every == 0:
                for name, value in losses.items():
                    writer.add_scalar(f"vocoder/{name}", value, step)
                writer.add_scalar("vocoder/lr", lr, step)
                if not progress:
                    log.info("step %d %s", step, " ".join(f"{k}={v:.3f}" for k, v in losses.items()))
            reason = run.stop_reason()
            if reason:
                break
        else:
            if len(data) < cfg.batch_size:
                raise CorpusError(f"{len(data)} training wavs, fewer than one batch of {cfg.batch_size}",
                                  where=", ".join(map(str, folders)), fix="lower train.batch_size")
            run.next_epoch()
    bar.close()
    run.finish()
    step = run.step
    model_dir = run_dir / "model"
    if main:
        export_vocoder(core, accelerator.unwrap_model(discs), run_dir, audio, vc.discriminator_channels)
        _write_sample(core, data, audio, run_dir / "sample.wav", writer, step)
        writer.close()
        log.info("stopped by %s at step %d; vocoder in %s", reason, step, model_dir)
    accelerator.wait_for_everyone()
    return TrainResult(run_dir, step, reason, model_dir, run.session_seconds())


@torch.no_grad()
def _write_sample(generator, data: SegmentDataset, audio: AudioConfig, path: Path, writer, step: int) -> None:
    """Vocode the first training wav's own mel (copy synthesis): what a listener checks first."""
    import wave

    from multikd.audio.features import log_mel

    wav = data.read(0)
    p = next(generator.parameters())
    mel = log_mel(torch.from_numpy(wav), audio).T[None].to(p.device)  # [1, T, n_mels]
    out = generator.eval()(mel)[0].float().clamp(-1, 1).cpu().numpy()
    with wave.open(str(path), "wb") as f:  # the stdlib writer: no soundfile needed on a GPU machine
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(audio.sample_rate)
        f.writeframes(np.round(out * 32767).astype("<i2").tobytes())
    writer.add_audio("vocoder/sample", out, step, sample_rate=audio.sample_rate)
