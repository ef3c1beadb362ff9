"""The vocoder interface and its name → class registry."""
from __future__ import annotations

import abc
import json
from pathlib import Path

import torch

from multikd.audio.config import AudioConfig
from multikd.errors import ConfigError

VOCODERS: dict[str, type["Vocoder"]] = {}


def register_vocoder(name: str):
    """Class decorator: make a :class:`Vocoder` subclass loadable by ``name``."""

    def deco(cls):
        if not (isinstance(cls, type) and issubclass(cls, Vocoder)):
            raise TypeError(f"{cls!r} must subclass multikd.vocoder.Vocoder")
        VOCODERS[name] = cls
        cls.name = name
        return cls

    return deco


class Vocoder(abc.ABC):
    """Turns natural-log mel spectrograms (the features of :mod:`multikd.audio.features`) into audio."""

    name: str = ""

    def __init__(self, audio: AudioConfig):
        self.audio = audio

    @property
    def sample_rate(self) -> int:
        return self.audio.sample_rate

    @abc.abstractmethod
    def vocode(self, mel: torch.Tensor) -> torch.Tensor:
        """Args: mel [B, T, n_mels] ln-mel. Returns: wav [B, T * hop_length] float32 in [-1, 1]."""

    @classmethod
    def from_pretrained(cls, path: Path, audio: AudioConfig) -> "Vocoder":
        """Load a trained vocoder from its folder; vocoders without weights are built from ``audio`` alone."""
        return cls(audio)


def load_vocoder(spec: str, audio: AudioConfig) -> Vocoder:
    """A vocoder by registry name (``griffinlim``) or by the folder of a trained one.

    Raises:
        ConfigError: an unknown name, or a folder whose config.json names no registered vocoder.
    """
    if spec in VOCODERS:
        return VOCODERS[spec](audio)
    path = Path(spec)
    if path.is_dir():
        cfg_path = path / "config.json"
        try:
            kind = json.loads(cfg_path.read_text(encoding="utf-8")).get("vocoder")
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"cannot read the vocoder config ({e})", where=str(cfg_path),
                              fix="a vocoder folder holds config.json with a \"vocoder\" key") from None
        if kind not in VOCODERS:
            raise ConfigError(f"vocoder type {kind!r} is not registered", where=str(cfg_path),
                              fix=f"known: {', '.join(sorted(VOCODERS))}")
        return VOCODERS[kind].from_pretrained(path, audio)
    raise ConfigError(f"unknown vocoder {spec!r} (neither a registered name nor a folder)",
                      fix=f"use one of: {', '.join(sorted(VOCODERS))}, or a trained vocoder's folder")
