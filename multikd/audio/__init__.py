"""Audio layer: load any source to float32 mono, reject bad utterances with a countable reason, extract
frame-aligned log-mel / F0 / energy.

Submodules: ``config`` (AudioConfig), ``io`` (load_audio, save_wav), ``quality`` (Reject, preprocess),
``features`` (log_mel, f0, energy, extract_features). Only the light ones are imported here, so
``import multikd.audio`` does not pull in librosa or torch.
"""
from multikd.audio.config import AudioConfig
from multikd.audio.quality import AudioRejected, Reject

__all__ = ["AudioConfig", "AudioRejected", "Reject"]
