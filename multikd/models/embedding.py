"""Input and conditioning embeddings.

- :class:`PhoneEmbedding`: learned id embedding + a linear projection of the phone's articulatory feature
  vector. The feature matrix is a non-trainable buffer copied from ``config.phone_features``; it is saved
  with the weights (persistent buffer) and so reloads bit-exactly. A phone the model never saw in training
  keeps an untrained (near-zero) id row but a meaningful feature projection, shared with the phones it
  resembles.
- :class:`ConditionEmbedding`: language and speaker embeddings, summed into one conditioning vector.

Why additive conditioning rather than FiLM: a new language's embedding is initialised from the teacher
languages it is closest to (a weighted mean of their rows). With additive conditioning that mean is an
interpolation of the offsets the teacher learned, and stays in-distribution; with FiLM the mean of scales
and shifts multiplies into features the teacher never produced. Addition is also cheaper for the student
and needs no identity-initialisation care. The sum is added to the encoder output, and each variance
predictor adds its own projection of it (see ``variance.py``), so both are conditioned.
"""
from __future__ import annotations

import torch
from torch import nn

from multikd.models.config import AcousticConfig


class PhoneEmbedding(nn.Module):
    """``phone_ids [B, T_text]`` → ``[B, T_text, hidden]`` (pad rows are 0 after masking by the caller)."""

    def __init__(self, config: AcousticConfig):
        super().__init__()
        self.ids = nn.Embedding(config.vocab_size, config.hidden, padding_idx=0)
        self.register_buffer("phone_features", torch.tensor(config.phone_features, dtype=torch.float32))  # [V, F]
        self.features = nn.Linear(config.n_features, config.hidden, bias=False)

    def forward(self, phone_ids: torch.Tensor) -> torch.Tensor:
        feats = self.phone_features[phone_ids]  # [B, T_text, F]
        return self.ids(phone_ids) + self.features(feats.to(self.features.weight.dtype))  # [B, T_text, C]


class ConditionEmbedding(nn.Module):
    """``language_ids [B]``, ``speaker_ids [B]`` → conditioning vector ``[B, hidden]``."""

    def __init__(self, config: AcousticConfig):
        super().__init__()
        self.language = nn.Embedding(config.n_languages, config.hidden)
        self.speaker = nn.Embedding(config.n_speakers, config.hidden)

    def forward(self, language_ids: torch.Tensor, speaker_ids: torch.Tensor) -> torch.Tensor:
        n_lang, n_spk = self.language.num_embeddings, self.speaker.num_embeddings
        if bool((language_ids < 0).any() or (language_ids >= n_lang).any()):
            raise IndexError(f"language_ids {language_ids.tolist()} outside 0..{n_lang - 1} (n_languages={n_lang})")
        if bool((speaker_ids < 0).any() or (speaker_ids >= n_spk).any()):
            raise IndexError(f"speaker_ids {speaker_ids.tolist()} outside 0..{n_spk - 1} (n_speakers={n_spk})")
        return self.language(language_ids) + self.speaker(speaker_ids)  # [B, C]
