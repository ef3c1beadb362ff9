"""A Vocos-style neural vocoder: log-mel → STFT magnitude and phase per frame → inverse STFT.

Why this architecture (numbers from ``python -m multikd.vocoder.bench``, one CPU thread): every layer runs
at the frame rate (86 frames/s) instead of the sample rate, and the inverse STFT does the upsampling, so
its cost per second of speech is ~hundreds of times lower than a HiFi-GAN generator of similar size whose
transposed convolutions run at 22 050 samples/s. The network only has to learn the spectrum.

Data flow (B batch, T frames, C = ``dim``, F = n_fft // 2 + 1)::

    mel [B, T, n_mels] ─conv k7─▶ [B, C, T] ─LayerNorm─▶ ConvNeXt blocks ─LayerNorm─▶ linear
        ─▶ log-magnitude [B, F, T], phase [B, F, T] ─▶ complex spectrum ─ISTFT─▶ wav [B, (T - 1) · hop]

The inverse STFT is :class:`ISTFT`: a fixed inverse-DFT matrix and an overlap-add built from pads and
sums, so the same code trains in torch and exports to ONNX (``torch.istft`` does not export) and the two
agree to float precision. Frames follow :mod:`multikd.audio.features`: frame ``i`` is centred on sample
``i · hop``, so ``T`` frames give ``(T - 1) · hop`` samples, exactly like :class:`~multikd.vocoder.GriffinLim`.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedModel, PretrainedConfig

from multikd.audio.config import AudioConfig
from multikd.errors import ConfigError
from multikd.vocoder.base import Vocoder, register_vocoder

# Sizes: "large" is the teacher vocoder (Vocos' published width/depth), "small" the deployable student,
# "tiny" exists for tests only. Parameters and speed are in the bench table of the module docstring above.
VOCOS_PRESETS: dict[str, dict] = {
    "tiny": dict(dim=32, intermediate=64, layers=1),
    "small": dict(dim=128, intermediate=384, layers=4),
    "large": dict(dim=512, intermediate=1536, layers=8),
}
# Audio settings the vocoder is tied to: a mel with other settings is a different input.
AUDIO_KEYS = ("sample_rate", "n_fft", "hop_length", "win_length", "n_mels", "fmin", "fmax")


class VocosConfig(PretrainedConfig):
    """Configuration of :class:`VocosGenerator`; ``config.json`` also carries ``"vocoder": "vocos"`` so
    :func:`multikd.vocoder.load_vocoder` recognises the folder, and the audio settings it was trained on."""

    model_type = "multikd_vocos"

    def __init__(self, dim: int = 128, intermediate: int = 384, layers: int = 4,
                 # Kernel 7 over frames = 81 ms of context per block: several pitch periods of the lowest voices.
                 kernel: int = 7,
                 # Vocos' cap on the predicted magnitude: exp(log_mag) above 100 is never speech at our scale and
                 # an unclamped exp overflows early in GAN training.
                 max_magnitude: float = 100.0,
                 audio: dict | None = None, **kwargs):
        self.dim, self.intermediate, self.layers, self.kernel = int(dim), int(intermediate), int(layers), int(kernel)
        self.max_magnitude = float(max_magnitude)
        a = AudioConfig.from_dict(audio, where="vocoder config") if isinstance(audio, dict) else AudioConfig()
        self.audio = {k: getattr(a, k) for k in AUDIO_KEYS}
        self.vocoder = "vocos"
        super().__init__(**kwargs)

    @classmethod
    def preset(cls, name: str, audio: AudioConfig | None = None, **overrides) -> "VocosConfig":
        """A named size (``tiny``, ``small``, ``large``) for ``audio``'s mel settings.

        Raises:
            ConfigError: an unknown preset name.
        """
        if name not in VOCOS_PRESETS:
            raise ConfigError(f"unknown vocoder size {name!r}", fix=f"use one of: {', '.join(VOCOS_PRESETS)}")
        a = audio or AudioConfig()
        return cls(**{**VOCOS_PRESETS[name], **overrides}, audio={k: getattr(a, k) for k in AUDIO_KEYS})

    def check_audio(self, audio: AudioConfig, where: str) -> None:
        """Raise ConfigError when ``audio``'s mel settings differ from the ones this vocoder was trained on."""
        diff = [f"{k}: vocoder {self.audio[k]} vs model {getattr(audio, k)}" for k in AUDIO_KEYS
                if float(self.audio[k]) != float(getattr(audio, k))]
        if diff:
            raise ConfigError(f"the vocoder was trained on other mel settings ({'; '.join(diff)})", where=where,
                              fix="train a vocoder on corpora prepared with the acoustic model's audio settings")


@functools.lru_cache(maxsize=8)
def _istft_matrices(n_fft: int, win_length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(cos [F, N], sin [F, N], window² [N]) of the windowed one-sided inverse DFT, float32 on the CPU.

    Computed in numpy (float64, then rounded once): the ONNX tracer does not see numpy, so the graph holds
    the float32 result as a constant instead of a float64 computation and a cast.
    """
    window = np.zeros(n_fft)
    left = (n_fft - win_length) // 2  # torch.stft centres a shorter window inside the frame
    window[left:left + win_length] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win_length) / win_length)  # periodic Hann
    n_bins = n_fft // 2 + 1
    angle = 2 * np.pi * np.arange(n_bins)[:, None] * np.arange(n_fft)[None, :] / n_fft
    # Bins 0 and N/2 count once, the others twice (their conjugate twins are not stored).
    scale = np.full((n_bins, 1), 2.0)
    scale[0] = scale[-1] = 1.0
    return tuple(torch.from_numpy(m.astype(np.float32)) for m in
                 (scale * np.cos(angle) * window / n_fft, -scale * np.sin(angle) * window / n_fft, window ** 2))


class ISTFT(nn.Module):
    """Inverse STFT (centred frames, periodic Hann window) from matmuls, pads and sums; ONNX-exportable.

    The matrices are computed, not stored as buffers: nothing to save, and ``from_pretrained`` (which builds
    modules on the meta device) cannot leave them uninitialised. In an ONNX graph they become constants.

    Args:
        n_fft, hop_length, win_length: as in :class:`AudioConfig`; ``n_fft`` must be a multiple of ``hop_length``
            (the overlap-add sums ``n_fft // hop_length`` shifted copies).
    """

    def __init__(self, n_fft: int, hop_length: int, win_length: int):
        super().__init__()
        if n_fft % hop_length:
            raise ConfigError(f"n_fft {n_fft} must be a multiple of hop_length {hop_length} for the vocoder")
        self.n_fft, self.hop, self.win_length = n_fft, hop_length, win_length

    def _overlap_add(self, frames: torch.Tensor) -> torch.Tensor:
        """``[B, T, N]`` windowed frames → ``[B, (T + N/hop - 1) · hop]`` summed signal."""
        B, T, N = frames.shape
        parts = N // self.hop
        chunks = frames.reshape(B, T, parts, self.hop)
        out = 0
        for i in range(parts):  # chunk i of frame t lands in output block t + i
            out = out + nn.functional.pad(chunks[:, :, i], (0, 0, i, parts - 1 - i))
        return out.reshape(B, -1)

    def forward(self, real: torch.Tensor, imag: torch.Tensor) -> torch.Tensor:
        """``real``, ``imag`` ``[B, F, T]`` → wav ``[B, (T - 1) · hop]`` (``torch.istft(center=True)``)."""
        if torch.is_autocast_enabled(real.device.type):
            # Mixed-precision training: a bf16 inverse DFT would add noise at about -50 dB to every output
            # sample; the matmuls are small, so they run in float32. Export and inference never autocast.
            with torch.autocast(real.device.type, enabled=False):
                return self(real.float(), imag.float())
        cos, sin, window_sq = (m.to(real.device, real.dtype) for m in _istft_matrices(self.n_fft, self.win_length))
        frames = real.transpose(1, 2) @ cos + imag.transpose(1, 2) @ sin  # [B, T, N]
        signal = self._overlap_add(frames)
        envelope = self._overlap_add(window_sq.expand(1, frames.shape[1], self.n_fft))  # [1, L]
        half = self.n_fft // 2
        end = signal.shape[1] - half
        # The envelope is >= 0.5 inside the kept range for a Hann window with 4x overlap; the floor only
        # guards other settings.
        return signal[:, half:end] / envelope[:, half:end].clamp_min(1e-8)


class ConvNeXtBlock(nn.Module):
    """Depthwise conv → LayerNorm → pointwise MLP (GELU) → learned per-channel scale, with a residual.

    ``x [B, C, T]`` → ``[B, C, T]``. The layer scale starts small (1/layers) so a deep stack begins near the
    identity and GAN training does not blow up in the first steps (ConvNeXt/Vocos practice).
    """

    def __init__(self, dim: int, intermediate: int, kernel: int, layer_scale: float):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pw1 = nn.Linear(dim, intermediate)
        self.pw2 = nn.Linear(intermediate, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).transpose(1, 2)  # [B, T, C]
        y = self.pw2(nn.functional.gelu(self.pw1(self.norm(y)))) * self.gamma
        return x + y.transpose(1, 2)


class VocosGenerator(PreTrainedModel):
    """ln-mel ``[B, T, n_mels]`` → waveform ``[B, (T - 1) · hop_length]`` (see the module docstring)."""

    config_class = VocosConfig
    base_model_prefix = "vocos"
    main_input_name = "mel"

    def __init__(self, config: VocosConfig):
        super().__init__(config)
        c, a = config, config.audio
        self.embed = nn.Conv1d(a["n_mels"], c.dim, c.kernel, padding=c.kernel // 2)
        self.norm = nn.LayerNorm(c.dim, eps=1e-6)
        self.blocks = nn.ModuleList(ConvNeXtBlock(c.dim, c.intermediate, c.kernel, 1.0 / max(c.layers, 1))
                                    for _ in range(c.layers))
        self.final_norm = nn.LayerNorm(c.dim, eps=1e-6)
        self.head = nn.Linear(c.dim, a["n_fft"] + 2)  # log-magnitude and phase of n_fft // 2 + 1 bins
        self.istft = ISTFT(a["n_fft"], a["hop_length"], a["win_length"])
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """Truncated normal (std 0.02) for conv/linear weights as in ConvNeXt, zero biases, identity norms."""
        if isinstance(module, (nn.Linear, nn.Conv1d)):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def spectrum(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``mel [B, T, n_mels]`` → (real, imag) ``[B, F, T]`` of the predicted STFT."""
        x = self.embed(mel.transpose(1, 2))  # [B, C, T]
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        h = self.head(self.final_norm(x.transpose(1, 2))).transpose(1, 2)  # [B, n_fft + 2, T]
        log_mag, phase = h.chunk(2, dim=1)  # [B, F, T] each
        mag = torch.exp(log_mag).clamp(max=self.config.max_magnitude)
        # Phase as an unconstrained angle: cos/sin wrap it, so the network never meets a discontinuity at ±pi.
        return mag * torch.cos(phase), mag * torch.sin(phase)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """``mel [B, T, n_mels]`` natural-log mel → wav ``[B, (T - 1) · hop]`` float32 (not clipped)."""
        return self.istft(*self.spectrum(mel))


@register_vocoder("vocos")
class VocosVocoder(Vocoder):
    """A trained :class:`VocosGenerator` behind the :class:`~multikd.vocoder.Vocoder` interface.

    ``load_vocoder("runs/x/vocoder/model", audio)`` reaches :meth:`from_pretrained` through the
    ``"vocoder": "vocos"`` key of the folder's config.json.
    """

    def __init__(self, audio: AudioConfig, generator: VocosGenerator | None = None):
        super().__init__(audio)
        if generator is None:
            raise ConfigError("the vocos vocoder needs trained weights", fix="pass a trained vocoder's folder "
                              "(multikd train-vocoder RECIPE writes RUN/model), or use griffinlim")
        generator.config.check_audio(audio, where="vocoder")
        self.generator = generator.eval()

    @classmethod
    def from_pretrained(cls, path: Path, audio: AudioConfig) -> "VocosVocoder":
        """Load ``path`` (config.json + model.safetensors) and check it matches ``audio``'s mel settings.

        Raises:
            ConfigError: weights that cannot be read, or mel settings that differ from ``audio``'s.
        """
        try:
            generator = VocosGenerator.from_pretrained(str(path))
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot load the vocoder ({e})", where=str(path),
                              fix="use the model/ folder written by multikd train-vocoder") from None
        generator.config.check_audio(audio, where=str(path))
        return cls(audio, generator)

    @torch.no_grad()
    def vocode(self, mel: torch.Tensor) -> torch.Tensor:
        """Args: mel [B, T, n_mels] ln-mel. Returns: wav [B, (T - 1) * hop_length] float32 in [-1, 1]."""
        p = next(self.generator.parameters())
        return self.generator(mel.to(p.device, p.dtype)).float().clamp(-1.0, 1.0)
