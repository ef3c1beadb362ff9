"""Synthesizer registry for the demo corpus; importing this package registers every engine."""
from multikd.data.demo.engines import espeak, festival, flite  # noqa: F401  (registration side effect)
from multikd.data.demo.engines.base import (
    ENGINES,
    RenderFailure,
    RenderRequest,
    RenderResult,
    Synthesizer,
    Voice,
    check_rendered,
    get_engine,
    register,
)

__all__ = ["ENGINES", "RenderFailure", "RenderRequest", "RenderResult", "Synthesizer", "Voice",
           "check_rendered", "get_engine", "register"]
