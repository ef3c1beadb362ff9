"""Vocoders: log-mel [B, T, n_mels] → waveform [B, samples], behind one registry.

``load_vocoder("griffinlim", audio_cfg)`` gives the signal-processing fallback that needs no training;
``load_vocoder("path/to/vocoder_dir", audio_cfg)`` loads a trained vocoder whose ``config.json`` names
its registered class under ``"vocoder"``. A neural vocoder plugs in by subclassing :class:`Vocoder`
and decorating the class with ``@register_vocoder("name")``.
"""
from multikd.vocoder.base import VOCODERS, Vocoder, load_vocoder, register_vocoder
from multikd.vocoder.griffinlim import GriffinLim
from multikd.vocoder.vocos import VocosVocoder  # registers "vocos" so trained vocoder folders load

__all__ = ["VOCODERS", "Vocoder", "load_vocoder", "register_vocoder", "GriffinLim", "VocosVocoder"]
