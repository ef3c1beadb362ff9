"""Audio settings shared by loading, quality checks and feature extraction.

One :class:`AudioConfig` travels with every cached feature set and every model, because a mel computed
with other settings is silently a different feature: the saved config is what makes a cache reusable.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from multikd.errors import ConfigError


@dataclass
class AudioConfig:
    """Every number that shapes a waveform or a feature frame. Each default carries its reason."""

    # 22.05 kHz is what most public TTS corpora and HiFi-GAN-style vocoders use; speech content above
    # 11 kHz adds little to intelligibility while costing compute in every later stage.
    sample_rate: int = 22050
    # 1024-point FFT = 46 ms at 22.05 kHz: bins 21.5 Hz apart, fine enough to resolve harmonics of voices
    # down to ~50 Hz, and the size the common 22.05 kHz vocoder recipes use.
    n_fft: int = 1024
    # 256 samples = 11.6 ms (86 frames/s): short enough for phone durations of a few frames, and equal to
    # the HiFi-GAN V1 upsampling product (8·8·2·2), so a vocoder maps one frame to exactly one hop.
    hop_length: int = 256
    # Window = FFT size: no zero padding inside the frame, so no spectral interpolation artefacts.
    win_length: int = 1024
    # 80 mel bands: the de-facto TTS standard; acoustic models and vocoders are sized for it.
    n_mels: int = 80
    # The mel filterbank starts at 0 Hz so low-pitched voices keep their fundamental in the features.
    fmin: float = 0.0
    # Stop at 8 kHz: many corpora (FLEURS, Common Voice, phone-band recordings) are 16 kHz at source and
    # hold nothing above 8 kHz, so bands up there would only learn resampler noise.
    fmax: float = 8000.0
    # F0 search range: 50 Hz covers low male and creaky voices, 800 Hz children and high female voices;
    # a wider range only adds octave errors.
    f0_min: float = 50.0
    f0_max: float = 800.0
    # F0 estimator, a key of multikd.audio.features.F0_METHODS. "dio" (WORLD dio + stonemask): ~220x
    # real time on one core with good voicing; "yin" is faster and needs no extra package but misses more
    # voiced frames (measured in benchmarks/bench_features.py).
    f0_method: str = "dio"
    # A frame quieter than this many dB below the loudest frame counts as silence for trimming: 40 dB
    # keeps soft word endings and breath-free onsets while removing room tone of typical recordings.
    trim_top_db: float = 40.0
    # Silence kept at each end after trimming: vocoders and duration models dislike a hard onset at frame 0.
    trim_margin_s: float = 0.05
    # Integrated loudness target (ITU-R BS.1770 / EBU R128 broadcast level): all speakers at one level,
    # with ~20 dB of headroom for speech peaks, so the normalised file rarely needs limiting.
    loudness_target_lufs: float = -23.0
    # After loudness normalisation the sample peak is kept at or below this level (dBFS); gain is lowered
    # instead of clipping, and the shortfall is reported.
    peak_limit_dbfs: float = -1.0
    # An utterance whose loudest 46 ms frame stays below this level (dBFS RMS) is silence or a dead mic;
    # -60 dBFS is far under any usable recording yet above 16-bit dither noise (~-90 dBFS).
    silence_dbfs: float = -60.0
    # Shorter utterances carry too little context for prosody; longer ones dominate padded batches and
    # attention memory. Applied after trimming.
    min_seconds: float = 0.5
    max_seconds: float = 20.0
    # A sample at or above this absolute amplitude counts as clipped (16-bit full scale is 0.99997) ...
    clip_amplitude: float = 0.999
    # ... and a file is rejected when more than this fraction of its samples is clipped: one peak sample
    # at full scale is a normalised file, 0.1 % of the samples is audible distortion.
    clip_max_fraction: float = 0.001

    @property
    def frames_per_second(self) -> float:
        """Feature frames per second of audio (86.13 with the defaults)."""
        return self.sample_rate / self.hop_length

    def n_frames(self, n_samples: int) -> int:
        """Number of centred frames for ``n_samples`` samples: ``1 + n_samples // hop_length``."""
        return 1 + n_samples // self.hop_length

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, safe for YAML/JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None, where: str = "audio config") -> "AudioConfig":
        """Build from a dict; missing keys keep their defaults.

        Raises:
            ConfigError: an unknown key (named, with the known ones listed) or a value of the wrong type.
        """
        d = dict(d or {})
        known = {f.name: f for f in fields(cls)}
        for key in d:
            if key not in known:
                raise ConfigError(f"unknown audio setting {key!r}", where=where,
                                  fix=f"use one of: {', '.join(sorted(known))}")
        for key, value in d.items():
            want = known[key].type
            # Integers are accepted where a float is expected (YAML writes 8000 for 8000.0), never the reverse.
            ok = {"int": isinstance(value, int) and not isinstance(value, bool),
                  "float": isinstance(value, (int, float)) and not isinstance(value, bool),
                  "str": isinstance(value, str)}[want]
            if not ok:
                raise ConfigError(f"audio setting {key!r} must be {want}, got {value!r}", where=where)
            if want == "float":
                d[key] = float(value)
        cfg = cls(**d)
        cfg.validate(where)
        return cfg

    def validate(self, where: str = "audio config") -> None:
        """Check the settings agree with each other.

        Raises:
            ConfigError: naming the first inconsistent setting.
        """
        problems = [
            ("win_length", self.win_length <= self.n_fft, "win_length must be <= n_fft"),
            ("hop_length", 0 < self.hop_length <= self.win_length, "hop_length must be in 1..win_length"),
            ("fmax", 0 <= self.fmin < self.fmax <= self.sample_rate / 2,
             "need 0 <= fmin < fmax <= sample_rate / 2"),
            ("f0_max", 0 < self.f0_min < self.f0_max < self.sample_rate / 2,
             "need 0 < f0_min < f0_max < sample_rate / 2"),
            ("max_seconds", 0 <= self.min_seconds < self.max_seconds, "need 0 <= min_seconds < max_seconds"),
            ("clip_amplitude", 0 < self.clip_amplitude <= 1, "clip_amplitude must be in (0, 1]"),
        ]
        for key, ok, msg in problems:
            if not ok:
                raise ConfigError(f"bad audio setting {key!r}: {msg}", where=where, fix=f"config: {self}")
