"""`AcousticConfig`: every number that shapes the acoustic model, saved as ``config.json`` beside its weights.

Teacher and student are the same :class:`~multikd.models.acoustic.AcousticModel`; only this config differs.
The config also carries what makes a checkpoint self-describing: the symbol table's articulatory feature
matrix (``phone_features``, ``[vocab_size][n_features]``) and the language and speaker names behind the
embedding ids, so a saved model can be used without the corpus it was trained on.

Presets (``AcousticConfig.preset(name, **overrides)``). Measured 2026-11-25 with ``OMP_NUM_THREADS=1
python -m multikd.models.bench`` (vocab 80, 34 features, 4 languages, 8 speakers, 80 mel bands; random
weights with the duration head pinned to 7 frames/phone; one 60-phone sentence = 4.88 s of speech; median
of 5 runs of :meth:`AcousticModel.inference`, batch 1, acoustic model only — no vocoder — on one thread of
this project's shared 2-core development CPU; two runs agreed within 5 %). "params" counts everything
saved; the aligner (training only) is the difference to "at inference":

=========  ==========  ============  ===================================================  ==============
preset     params      at inference  shape                                                CPU RTF (1 thr)
=========  ==========  ============  ===================================================  ==============
tiny       0.12 M      0.06 M        hidden 32, 1+1 layers, ff ×2, kernel 3 (tests only)  0.0005
small      1.03 M      0.90 M        hidden 96, 3+3 layers, 2 heads, ff ×2, kernel 3      0.0024
student    1.77 M      1.59 M        hidden 128, 3+3 layers, 2 heads, ff ×2, kernel 3     0.0035
teacher    12.5 M      12.0 M        hidden 256, 4+4 layers, 2 heads, ff ×4, kernel 3     0.017–0.018
large      39.8 M      38.7 M        hidden 384, 6+6 layers, 4 heads, ff ×4, kernel 3     0.047–0.049
=========  ==========  ============  ===================================================  ==============

(``large`` is meant for a GPU; its CPU RTF is listed only for comparison.)
"""
from __future__ import annotations

import math
from typing import Any

from transformers import PretrainedConfig

from multikd.errors import ConfigError

# Each preset only lists what differs from the class defaults.
PRESETS: dict[str, dict[str, Any]] = {
    # Small enough that a forward+backward pass is a few milliseconds: for tests, not for speech.
    "tiny": dict(hidden=32, encoder_layers=1, decoder_layers=1, heads=2, conv_kernel=3, ff_mult=2,
                 n_bins=16, predictor_hidden=32, predictor_kernel=3, aligner_hidden=32, dropout=0.0),
    # The deployable voice: 1.6 M parameters at inference, ~3.5 ms per second of speech on one CPU core.
    "student": dict(hidden=128, encoder_layers=3, decoder_layers=3, heads=2, conv_kernel=3, ff_mult=2,
                    predictor_hidden=128, aligner_hidden=80),
    # Multilingual teacher trainable on a CPU in hours and on one GPU in minutes per epoch.
    # ≥ 10× fewer parameters than the teacher (the distillation issue's size goal); same depth as student.
    "small": dict(hidden=96, encoder_layers=3, decoder_layers=3, heads=2, conv_kernel=3, ff_mult=2,
                  predictor_hidden=96, aligner_hidden=80),
    "teacher": dict(hidden=256, encoder_layers=4, decoder_layers=4, heads=2, conv_kernel=3, ff_mult=4,
                    predictor_hidden=256, aligner_hidden=80),
    # FastSpeech 2-sized teacher for a GPU run over many languages.
    "large": dict(hidden=384, encoder_layers=6, decoder_layers=6, heads=4, conv_kernel=3, ff_mult=4,
                  predictor_hidden=384, aligner_hidden=128),
}


class AcousticConfig(PretrainedConfig):
    """Configuration of :class:`~multikd.models.acoustic.AcousticModel`. Each default carries its reason.

    Required for a usable model: ``vocab_size`` and ``phone_features`` (``SymbolTable.feature_matrix()
    .tolist()``), ``n_languages``, ``n_speakers``. Ranges are given in the domain the model predicts in:
    durations as ``log(1 + frames)``, pitch as per-speaker log-F0 z-scores (unvoiced = 0), energy in the
    normalised domain the dataset provides.
    """

    model_type = "multikd_acoustic"

    def __init__(
        self,
        vocab_size: int = 8,
        phone_features: list[list[float]] | None = None,
        n_languages: int = 1,
        n_speakers: int = 1,
        language_names: list[str] | None = None,
        speaker_names: list[str] | None = None,
        # Width of every transformer block; 192 is FastPitch's, a good middle between the presets.
        hidden: int = 192,
        encoder_layers: int = 4,
        decoder_layers: int = 4,
        heads: int = 2,
        # Kernel of the first conv in each block's feed-forward part: local context (coarticulation)
        # that attention alone models poorly. The second conv has kernel 1 (FastSpeech 2's design).
        conv_kernel: int = 9,
        ff_mult: int = 4,
        dropout: float = 0.1,
        n_mels: int = 80,
        # 64 bins: duration bins ~0.09 apart in log(1+frames) (≈9 % of a duration), pitch bins 0.13 z apart
        # (≈0.2 semitone for a typical 2-semitone std): finer than anyone hears, coarse enough that a
        # softmax over them is a useful distribution for soft-target distillation.
        n_bins: int = 64,
        pitch_range: tuple[float, float] = (-4.0, 4.0),
        energy_range: tuple[float, float] = (-4.0, 4.0),
        # log(1 + 244) = 5.5: a phone up to ~2.8 s (a long pause) is representable; longer ones are clipped.
        max_log_duration: float = 5.5,
        predictor_hidden: int = 192,
        predictor_kernel: int = 3,
        predictor_layers: int = 2,
        # Aligner (RAD-TTS / NeMo style): 80 attention channels, the NeMo default.
        aligner_hidden: int = 80,
        # Scale of the negative squared distance; tiny so that untrained encoders give a near-uniform
        # attention and the beta-binomial prior leads alignment early in training (NeMo's value).
        aligner_temperature: float = 0.0005,
        # Beta-binomial prior width: 1.0 keeps the prior broad enough for pauses and fast speech.
        prior_scaling: float = 1.0,
        # Log-probability of the CTC blank in the forward-sum loss (RAD-TTS's value).
        blank_logprob: float = -1.0,
        # Loss weights. Binarisation is usually switched on after the aligner has converged (the train loop
        # may set it to 0 for the first steps); the others follow FastPitch/RAD-TTS.
        mel_loss_weight: float = 1.0,
        duration_loss_weight: float = 0.1,
        pitch_loss_weight: float = 0.1,
        energy_loss_weight: float = 0.1,
        forward_sum_loss_weight: float = 1.0,
        bin_loss_weight: float = 1.0,
        # Weight of the squared error of the expected value (softmax · bin centres) against the target,
        # added to each variance loss: the CE alone does not care how far a wrong bin is.
        value_loss_weight: float = 1.0,
        **kwargs,
    ):
        self.vocab_size = int(vocab_size)
        self.phone_features = [list(map(float, row)) for row in phone_features] if phone_features else None
        self.n_languages = int(n_languages)
        self.n_speakers = int(n_speakers)
        self.language_names = list(language_names or [])
        self.speaker_names = list(speaker_names or [])
        self.hidden, self.encoder_layers, self.decoder_layers = int(hidden), int(encoder_layers), int(decoder_layers)
        self.heads, self.conv_kernel, self.ff_mult = int(heads), int(conv_kernel), int(ff_mult)
        self.dropout = float(dropout)
        self.n_mels, self.n_bins = int(n_mels), int(n_bins)
        self.pitch_range = tuple(float(x) for x in pitch_range)  # JSON stores a list; keep a tuple in memory
        self.energy_range = tuple(float(x) for x in energy_range)
        self.max_log_duration = float(max_log_duration)
        self.predictor_hidden, self.predictor_kernel = int(predictor_hidden), int(predictor_kernel)
        self.predictor_layers = int(predictor_layers)
        self.aligner_hidden, self.aligner_temperature = int(aligner_hidden), float(aligner_temperature)
        self.prior_scaling, self.blank_logprob = float(prior_scaling), float(blank_logprob)
        self.mel_loss_weight, self.duration_loss_weight = float(mel_loss_weight), float(duration_loss_weight)
        self.pitch_loss_weight, self.energy_loss_weight = float(pitch_loss_weight), float(energy_loss_weight)
        self.forward_sum_loss_weight, self.bin_loss_weight = float(forward_sum_loss_weight), float(bin_loss_weight)
        self.value_loss_weight = float(value_loss_weight)
        super().__init__(**kwargs)

    @property
    def n_features(self) -> int:
        """Length of one articulatory feature vector."""
        return len(self.phone_features[0]) if self.phone_features else 0

    @classmethod
    def preset(cls, name: str, **overrides) -> "AcousticConfig":
        """A named preset (``tiny``, ``student``, ``teacher``, ``large``) with ``overrides`` on top.

        Raises:
            ConfigError: an unknown preset name.
        """
        if name not in PRESETS:
            raise ConfigError(f"unknown acoustic model preset {name!r}", fix=f"use one of: {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def check(self, where: str = "acoustic config") -> None:
        """Check the settings agree with each other; called when a model is built.

        Raises:
            ConfigError: naming the first inconsistent setting and how to fix it.
        """
        if not self.phone_features:
            raise ConfigError("phone_features is required (the symbol table's articulatory feature matrix)",
                              where=where, fix="pass phone_features=SymbolTable.feature_matrix().tolist()")
        widths = {len(r) for r in self.phone_features}
        if len(widths) != 1 or 0 in widths:
            raise ConfigError(f"phone_features rows have lengths {sorted(widths)}; all must be equal and > 0",
                              where=where)
        if not all(math.isfinite(x) for r in self.phone_features for x in r):
            raise ConfigError("phone_features holds NaN or infinity", where=where)
        problems = [
            ("phone_features", len(self.phone_features) == self.vocab_size,
             f"has {len(self.phone_features)} rows but vocab_size is {self.vocab_size}"),
            ("n_languages", self.n_languages >= 1, "must be >= 1"),
            ("n_speakers", self.n_speakers >= 1, "must be >= 1"),
            ("language_names", not self.language_names or len(self.language_names) == self.n_languages,
             f"has {len(self.language_names)} names for n_languages={self.n_languages}"),
            ("speaker_names", not self.speaker_names or len(self.speaker_names) == self.n_speakers,
             f"has {len(self.speaker_names)} names for n_speakers={self.n_speakers}"),
            ("heads", self.heads >= 1 and self.hidden % self.heads == 0, "hidden must be divisible by heads"),
            ("conv_kernel", self.conv_kernel % 2 == 1, "must be odd (same-length convolution)"),
            ("predictor_kernel", self.predictor_kernel % 2 == 1, "must be odd (same-length convolution)"),
            ("n_bins", self.n_bins >= 2, "must be >= 2"),
            ("pitch_range", len(self.pitch_range) == 2 and self.pitch_range[0] < self.pitch_range[1],
             "must be (low, high) with low < high"),
            ("energy_range", len(self.energy_range) == 2 and self.energy_range[0] < self.energy_range[1],
             "must be (low, high) with low < high"),
            ("max_log_duration", self.max_log_duration > 0, "must be > 0"),
            ("dropout", 0.0 <= self.dropout < 1.0, "must be in [0, 1)"),
        ]
        for key, ok, msg in problems:
            if not ok:
                raise ConfigError(f"bad acoustic setting {key!r}: {msg}", where=where)
