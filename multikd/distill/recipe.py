"""The ``distill:`` section of a recipe, and :class:`DistillRecipe` (a :class:`~multikd.recipe.Recipe` with it).

``data`` points at the prepared *target-language* folder(s); ``model`` is the *student* (preset and
overrides); ``train`` is shared by all three modes, so distill / finetune / scratch take the same steps
on the same data with the same seed::

    distill:
      teacher: ../../runs/demo-teacher-cpu/model   # an exported model folder
      mode: distill                                # distill | finetune | scratch
      weights: {gt: 1.0, seq_kd: 1.0, soft: 0.5, feat: 0.1, domain: 0.0}
      temperature: 2.0
      feature_layers: {encoder.2: encoder.3, decoder.2: decoder.3}   # student layer: teacher layer
      init_languages: [spa, ita]                   # empty: weights from phone-inventory overlap
      text_file: ../../lexicons/cat-Latn/sentences.txt   # target text without audio (optional)
      confidence_threshold: 0.3
      adapt_steps: 300                             # fine-tune the teacher on the target data first
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from multikd.config import load_config
from multikd.errors import ConfigError
from multikd.recipe import Recipe

MODES = ("distill", "finetune", "scratch", "adapt")  # adapt: fine-tune the extended teacher itself


@dataclass
class LossWeights:
    gt: float = 1.0  # the model's own loss on ground truth (mel, aligner durations, pitch, energy)
    seq_kd: float = 1.0  # teacher mel / duration / pitch / energy predictions as targets
    # Soft targets carry the teacher's uncertainty between neighbouring bins; 0.5 keeps them from
    # dominating the hard ground truth on a few minutes of data (the T² factor already restores scale).
    soft: float = 0.5
    feat: float = 0.1  # hidden states are unnormalised: a small weight keeps MSE on the scale of the mel L1
    domain: float = 0.0  # needs distill.source_prepared (teacher-language batches)


@dataclass
class DistillSection:
    teacher: str  # exported teacher model folder, relative to the recipe
    mode: str = "distill"
    weights: LossWeights = field(default_factory=LossWeights)
    # T = 2: the usual choice for distributions over a few dozen classes (Hinton et al. use 2–20); higher
    # flattens the 64-bin duration/pitch distributions into near-uniform noise.
    temperature: float = 2.0
    feature_layers: dict = field(default_factory=dict)  # "encoder.i" → "encoder.j"; empty: each student
    # layer ↔ the teacher layer it was initialised from
    init_languages: list[str] = field(default_factory=list)  # teacher languages the new language starts from
    init_speakers: list[str] = field(default_factory=list)  # teacher speakers a new speaker starts from
    text_file: str | None = None  # target-language sentences without audio, one per line
    text_speaker: str | None = None  # speaker the teacher reads text_file with (default: the target speaker)
    max_text_sentences: int = 500
    confidence_threshold: float = 0.0  # teacher targets with confidence below this are not used
    source_prepared: list[str] = field(default_factory=list)  # teacher-language folders (inventories, domain)
    domain_kind: str = "mmd"  # mmd | coral
    init_batches: int = 4  # teacher batches whose hidden states give the width-reduction projection
    targets_dir: str | None = None  # where teacher targets are written; default RUN/targets
    # Teacher adaptation: before writing targets, fine-tune the extended teacher on the target data for
    # this many steps (a nested ``adapt`` run in RUN/teacher-adapted; 0 = distil from the zero-shot
    # teacher). The distill student is then initialised from, and distilled from, the adapted teacher.
    adapt_steps: int = 0
    adapt_lr: float | None = None  # default: train.lr

    def validate(self, where: str = "distill") -> None:
        problems = [
            ("mode", self.mode in MODES, f"use one of {', '.join(MODES)}"),
            ("temperature", self.temperature > 0, "must be > 0"),
            ("domain_kind", self.domain_kind in ("mmd", "coral"), "use mmd or coral"),
            ("init_batches", self.init_batches >= 1, "must be >= 1"),
            ("adapt_steps", self.adapt_steps >= 0, "must be >= 0 (0: no teacher adaptation)"),
            ("adapt_lr", self.adapt_lr is None or self.adapt_lr > 0, "must be > 0, or null for train.lr"),
            ("weights", all(w >= 0 for w in vars(self.weights).values()), "weights must be >= 0"),
            ("weights.domain", self.weights.domain == 0 or self.source_prepared,
             "a domain term needs distill.source_prepared (teacher-language prepared folders)"),
        ]
        for key, ok, fix in problems:
            if not ok:
                raise ConfigError(f"bad setting distill.{key}", where=where, fix=fix)
        for s, t in self.feature_layers.items():
            for name in (s, t):
                part, _, idx = str(name).partition(".")
                if part not in ("encoder", "decoder") or not idx.isdigit():
                    raise ConfigError(f"bad distill.feature_layers entry {s!r}: {t!r}", where=where,
                                      fix="keys and values look like encoder.0 or decoder.2")

    def effective_weights(self) -> LossWeights:
        """The weights a mode uses: finetune, scratch and adapt train on the ground-truth term alone."""
        return self.weights if self.mode == "distill" else LossWeights(1.0, 0.0, 0.0, 0.0, 0.0)


@dataclass(kw_only=True)
class DistillRecipe(Recipe):
    distill: DistillSection


def load_distill_recipe(path: str | Path, overrides: list[str] | None = None) -> DistillRecipe:
    """Read a recipe with a ``distill:`` section; ConfigErrors name the dotted key and the file."""
    recipe = load_config(DistillRecipe, path, overrides)
    recipe.base_dir = Path(path).resolve().parent
    recipe.train.validate(where=str(path))
    recipe.distill.validate(where=str(path))
    return recipe
