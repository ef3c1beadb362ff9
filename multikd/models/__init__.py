"""Acoustic models: one FastSpeech 2-family class for teacher and student, configured by `AcousticConfig`.

``from multikd.models import AcousticConfig, AcousticModel, AcousticOutput``. The config and model are
registered with ``transformers``' Auto classes under ``model_type="multikd_acoustic"`` (in-process only:
loading never needs ``trust_remote_code``).
"""
from transformers import AutoConfig, AutoModel

from multikd.models.acoustic import LOSS_NAMES, AcousticModel
from multikd.models.config import PRESETS, AcousticConfig
from multikd.models.outputs import AcousticOutput

AutoConfig.register(AcousticConfig.model_type, AcousticConfig, exist_ok=True)
AutoModel.register(AcousticConfig, AcousticModel, exist_ok=True)

__all__ = ["AcousticConfig", "AcousticModel", "AcousticOutput", "LOSS_NAMES", "PRESETS"]
