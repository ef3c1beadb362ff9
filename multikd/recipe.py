"""Recipes: the one config of a run (``recipes/<name>/recipe.yaml``), as typed dataclasses.

One schema serves every command (prepare reads ``data``/``audio``; train-teacher also ``model``/``train``;
later stages add theirs)::

    name: demo-teacher
    data:
      card: ../../out/demo/corpus/README.md   # relative to this file
      split: train
      languages: [eng, spa]
      minutes: 15          # optional: a fixed, seeded subset per language (5 ⊂ 15 ⊂ 60 with one seed)
      seed: 0
      prepared: [../../out/demo/prepared/teacher]   # what training reads (default runs/<name>/prepared)
    audio:
      sample_rate: 22050
    model: {preset: teacher, overrides: {}}
    train: {batch_frames: 8000, lr: 1.0e-3, max_minutes: 60}
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from multikd.audio.config import AudioConfig
from multikd.config import load_config
from multikd.errors import ConfigError


@dataclass
class DataSelection:
    card: str  # data card path (or a corpus folder holding README.md), relative to the recipe
    split: str | None = None  # the card's split to load; None = all rows the source gives
    languages: list[str] = field(default_factory=list)  # ISO 639-3 codes to keep; empty = all
    speakers: list[str] = field(default_factory=list)  # speaker names to keep; empty = all
    minutes: float | None = None  # per-language budget of a seeded subset; None = everything
    seed: int = 0
    allow_unlicensed: bool = False  # a corpus without a licence is refused unless this is set
    # Prepared folders (the output of `multikd prepare`) that training reads, relative to the recipe.
    # Empty means the default output of `multikd prepare RECIPE`: runs/<recipe name>/prepared.
    prepared: list[str] = field(default_factory=list)


@dataclass
class ModelSection:
    preset: str = "teacher"  # a multikd.models.AcousticConfig preset: tiny | student | teacher | large
    overrides: dict = field(default_factory=dict)  # AcousticConfig fields that replace the preset's


@dataclass
class TrainSection:
    # A batch is filled up to this many padded mel frames (max length × items): batches of short
    # utterances hold more items, so memory per step stays flat. 8000 frames ≈ 93 s of audio.
    batch_frames: int | None = 8000
    batch_size: int | None = None  # a fixed number of items instead of (or on top of) the frame budget
    lr: float = 1e-3
    # Linear warm-up protects Adam's early, noisy second-moment estimates from large steps.
    warmup_steps: int = 1000
    # "noam": lr · min(1, sqrt(warmup / step)) after warm-up. It does not depend on max_steps, so a run
    # can be extended (raise max_steps, resume) without changing the steps already taken. "cosine"
    # decays to 10 % of lr at max_steps; "constant" keeps lr after warm-up.
    schedule: str = "noam"
    max_steps: int | None = 100_000  # optimizer steps; at least one of max_steps / max_minutes is required
    max_minutes: float | None = None  # training wall clock summed over resumes (a CPU budget)
    grad_accum: int = 1  # micro-batches per optimizer step (a larger effective batch on a small device)
    clip: float = 1.0  # gradient-norm clipping; duration/pitch losses spike on the first alignments
    weight_decay: float = 0.01
    # Optimizer steps before the aligner's binarisation loss (soft attention pulled towards its hard MAS
    # path) is switched on: pulling towards a path that is still near-random locks a bad alignment in
    # (RAD-TTS and NeMo start it after the forward-sum loss has settled). 0 = from the first step.
    bin_loss_start: int = 0
    betas: tuple[float, float] = (0.9, 0.98)  # 0.98: the transformer TTS default, faster to adapt than 0.999
    # "auto": bf16 on a GPU that supports it, else fp16 on a GPU, "no" on CPU (CPU autocast is slower).
    mixed_precision: str = "auto"
    save_every: int = 1000  # steps between checkpoints (and one at the end)
    keep_last: int = 3  # checkpoints kept; older ones are deleted after a new one is complete
    # Steps between validation samples (wav + plots); 0 = only at the end; -1 = never (a machine without
    # the text front end's backends or soundfile, e.g. a lent GPU training on a packed corpus).
    sample_every: int = 5000
    log_every: int = 25  # steps between TensorBoard scalars
    seed: int = 0
    num_workers: int = 0  # DataLoader workers; 0 on a 2-core CPU, where workers compete with training
    # An exported model folder (RUN/model, relative to the recipe) whose weights start a new run: a warm
    # start or a continuation on other hardware (optimizer, step and schedule start fresh). It must share
    # the run's symbols, languages, speakers and architecture. Ignored when the run resumes a checkpoint.
    init_from: str | None = None

    def validate(self, where: str = "train") -> None:
        problems = [
            ("batch_frames", self.batch_frames is not None or self.batch_size is not None,
             "set batch_frames or batch_size"),
            ("max_steps", self.max_steps is not None or self.max_minutes is not None,
             "set max_steps or max_minutes, or training never ends"),
            ("schedule", self.schedule in ("noam", "cosine", "constant"), "use noam, cosine or constant"),
            ("schedule", self.schedule != "cosine" or self.max_steps is not None, "cosine needs max_steps"),
            ("mixed_precision", self.mixed_precision in ("auto", "no", "bf16", "fp16"),
             "use auto, no, bf16 or fp16"),
            ("grad_accum", self.grad_accum >= 1, "must be >= 1"),
            ("bin_loss_start", self.bin_loss_start >= 0, "must be >= 0"),
            ("save_every", self.save_every >= 1, "must be >= 1"),
            ("keep_last", self.keep_last >= 1, "must be >= 1"),
            ("sample_every", self.sample_every >= -1, "steps between samples; 0 = only at the end, -1 = never"),
        ]
        for key, ok, fix in problems:
            if not ok:
                raise ConfigError(f"bad setting train.{key}", where=where, fix=fix)


@dataclass
class Recipe:
    name: str
    data: DataSelection
    audio: AudioConfig = field(default_factory=AudioConfig)
    model: ModelSection = field(default_factory=ModelSection)
    train: TrainSection = field(default_factory=TrainSection)
    base_dir: Path = field(default=Path("."), init=False, repr=False)

    def resolve(self, path: str | Path) -> Path:
        """A path from the recipe, relative to the recipe's folder unless absolute."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def prepared_dirs(self) -> list[Path]:
        if self.data.prepared:
            return [self.resolve(p) for p in self.data.prepared]
        return [Path("runs") / self.name / "prepared"]


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    recipe = load_config(Recipe, path, overrides)
    recipe.base_dir = Path(path).resolve().parent
    recipe.train.validate(where=str(path))
    return recipe


def load_any_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """A training or a distillation recipe (one with a ``distill:`` section), each with its own loader —
    for commands that only need the shared sections (``multikd prepare`` reads ``data`` and ``audio``)."""
    import yaml

    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        raw = None  # load_config reports the problem with its file and line
    if isinstance(raw, dict) and "distill" in raw:
        from multikd.distill.recipe import load_distill_recipe

        return load_distill_recipe(path, overrides)
    return load_recipe(path, overrides)
