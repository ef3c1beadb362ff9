"""Cost of a voice: parameters and bytes on disk of a model folder, and CPU real-time factor of synthesis.

Parameters are counted from the safetensors headers alone (an 8-byte length, then JSON with each tensor's
dtype and shape), so sizing a model loads no weights and needs no torch.
"""
from __future__ import annotations

import json
import logging
import math
import os
import statistics
import struct
import sys
import time
from pathlib import Path
from typing import Any, Callable

from multikd.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["safetensors_parameters", "model_cost", "measure_rtf"]


def safetensors_parameters(path: str | os.PathLike) -> dict[str, int]:
    """Number of parameters per dtype in one ``.safetensors`` file, read from its header.

    Returns:
        ``{dtype: element count}``, e.g. ``{"F32": 2400000}``.
    Raises:
        ConfigError: the file is not a safetensors file (bad header), naming it.
    """
    path = Path(path)
    with path.open("rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ConfigError("not a safetensors file (shorter than its 8-byte header length)", where=str(path))
        (n,) = struct.unpack("<Q", raw)
        # The format caps headers at 100 MB; a larger value means this is some other kind of file.
        if n > 100_000_000:
            raise ConfigError(f"not a safetensors file (header length {n})", where=str(path))
        try:
            header = json.loads(f.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"not a safetensors file (header is not JSON: {e})", where=str(path)) from e
    counts: dict[str, int] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        counts[info["dtype"]] = counts.get(info["dtype"], 0) + math.prod(info["shape"])
    return counts


def model_cost(folder: str | os.PathLike) -> dict[str, Any]:
    """Parameters and size on disk of a saved model folder.

    Args:
        folder: a folder holding one or more ``*.safetensors`` files (searched recursively) plus configs.
    Returns:
        ``{"parameters": total elements in every safetensors file, "parameters_by_dtype": {...},
        "weights_bytes": bytes of the safetensors files, "folder_bytes": bytes of every file in the folder,
        "folder_mb": folder_bytes / 2**20, "files": number of safetensors files}``.
    Raises:
        ConfigError: the folder does not exist or holds no safetensors file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError("model folder not found", where=str(folder), fix="give the folder save_pretrained wrote")
    weights = sorted(folder.rglob("*.safetensors"))
    if not weights:
        raise ConfigError("no *.safetensors file in the model folder", where=str(folder),
                          fix="save the model with safetensors (save_pretrained(..., safe_serialization=True))")
    by_dtype: dict[str, int] = {}
    for w in weights:
        for dtype, n in safetensors_parameters(w).items():
            by_dtype[dtype] = by_dtype.get(dtype, 0) + n
    folder_bytes = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return {"parameters": sum(by_dtype.values()), "parameters_by_dtype": by_dtype,
            "weights_bytes": sum(w.stat().st_size for w in weights), "folder_bytes": folder_bytes,
            "folder_mb": folder_bytes / 2**20, "files": len(weights)}


def measure_rtf(fn: Callable[[], Any], audio_seconds_fn: Callable[[Any], float], n: int = 5,
                warmup: int = 1, threads: int | None = 1) -> dict[str, float]:
    """CPU real-time factor of a synthesis callable: median wall time / seconds of audio produced.

    RTF < 1 is faster than real time (0.1 = ten times faster). The median of ``n`` timed runs after
    ``warmup`` untimed ones: the first call pays one-off costs (lazy imports, allocator growth, JIT) that
    are not synthesis, and the median ignores a run slowed by another process on a shared machine.

    Args:
        fn: does one synthesis, e.g. ``lambda: voice.synthesize("a test sentence")``; returns its output.
        audio_seconds_fn: seconds of audio in ``fn``'s output, e.g. ``lambda wav: len(wav) / 22050``.
        n: timed runs (≥ 1).
        warmup: untimed runs first.
        threads: torch intra-op threads during the measurement (restored afterwards); 1 by default because
            RTF on one thread is the deployment number and is stable on a busy 2-core machine. None leaves
            torch as it is. Only applied if torch is already imported (this function never imports it).
    Returns:
        ``{"rtf": median seconds / audio seconds, "seconds_median", "seconds_min", "audio_seconds", "runs",
        "threads"}``.
    Raises:
        ValueError: ``n < 1`` or the callable produced no audio.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    torch = sys.modules.get("torch")
    old_threads = torch.get_num_threads() if torch is not None else None
    if torch is not None and threads is not None:
        torch.set_num_threads(threads)
    try:
        for _ in range(warmup):
            fn()
        times, audio_seconds = [], None
        for _ in range(n):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
            audio_seconds = float(audio_seconds_fn(out))
    finally:
        if torch is not None and old_threads is not None:
            torch.set_num_threads(old_threads)
    if not audio_seconds or audio_seconds <= 0:
        raise ValueError("the synthesis callable produced no audio (audio_seconds_fn returned <= 0)")
    median = statistics.median(times)
    return {"rtf": median / audio_seconds, "seconds_median": median, "seconds_min": min(times),
            "audio_seconds": audio_seconds, "runs": n,
            "threads": torch.get_num_threads() if torch is not None and threads is None else threads}
