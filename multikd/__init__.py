"""multikd: TTS voices for low-resource languages by knowledge distillation."""
__version__ = "0.1.0"
