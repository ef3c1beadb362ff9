"""Feature extraction speed as a multiple of real time, per F0 method, on ~60 s of espeak-ng speech.

    OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_features.py [--seconds 60]

Columns: "1 thread" runs everything in one process with torch pinned to one thread; "2 threads" the same
with torch.set_num_threads(2) (only the STFT is multithreaded; the F0 estimators are single-threaded C
or numpy); "2 procs" splits the utterances over two worker processes of one thread each, which is how a
corpus preparer uses two cores. Each figure is audio seconds / wall seconds of log-mel + energy + F0
(extract_features), best of --repeats. Numbers depend on what else runs on the machine: compare rows
of one run, not runs.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from multikd.audio import features  # noqa: E402
from multikd.audio.config import AudioConfig  # noqa: E402
from multikd.audio.io import load_audio  # noqa: E402
from multikd.audio.quality import preprocess  # noqa: E402

SENTENCES = [
    "The old lighthouse keeper climbed the stairs every evening to light the lamp.",
    "A sudden storm rolled over the hills and the farmers hurried to bring in the hay.",
    "Seven children walked to the market with baskets full of apples and pears.",
    "Nobody expected the little boat to survive the crossing, yet it arrived at dawn.",
    "The library opens at nine o'clock and closes when the last reader has gone home.",
    "She wrote a long letter to her brother, who was working far away in the mountains.",
    "Every spring the river floods the meadow, and the frogs sing all night long.",
    "The committee will publish its report after the summer holidays are over.",
    "He counted the coins twice, but there were still only fourteen of them.",
    "Bright lanterns hung from the trees while the musicians tuned their violins.",
    "Please remember to close the window before you leave the classroom.",
    "The baker rises before sunrise to prepare fresh bread for the whole village.",
    "Our train was delayed by forty minutes because of snow on the tracks.",
    "Listening carefully, the students heard the distant call of an owl.",
    "Thousands of birds gather on the lake before they fly south for the winter.",
    "The museum keeps a map that was drawn by hand more than three hundred years ago.",
]
VOICES = ["en", "en-us", "en+f3", "en-us+m3"]  # male and female voices: F0 estimators see both ranges


def synthesize(folder: Path, seconds: float, cfg: AudioConfig) -> tuple[list[np.ndarray], float]:
    """Render sentences until ``seconds`` of clean audio; returns (clean wavs, seconds spent in preprocess)."""
    wavs, total, i, prep_s = [], 0.0, 0, 0.0
    while total < seconds:
        path = folder / f"{i:03d}.wav"
        text, voice = SENTENCES[i % len(SENTENCES)], VOICES[i % len(VOICES)]
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True, capture_output=True)
        t0 = time.perf_counter()
        wav, _ = preprocess(load_audio(path, cfg.sample_rate), cfg.sample_rate, cfg, where=str(path))
        prep_s += time.perf_counter() - t0
        wavs.append(wav)
        total += len(wav) / cfg.sample_rate
        i += 1
    return wavs, prep_s


def _warm(cfg_dict: dict) -> None:
    """Pool initializer: pay each worker's lazy imports, filterbank and numba compilation up front."""
    torch.set_num_threads(1)
    cfg = AudioConfig.from_dict(cfg_dict)
    wav = np.random.default_rng(0).normal(0, 0.1, cfg.sample_rate).astype(np.float32)
    for m in features.F0_METHODS:
        features.extract_features(wav, cfg, f0_method=m)


def _work(args: tuple[list[np.ndarray], str, dict]) -> None:
    wavs, method, cfg_dict = args
    torch.set_num_threads(1)
    cfg = AudioConfig.from_dict(cfg_dict)
    for w in wavs:
        features.extract_features(w, cfg, f0_method=method)


def speed(wavs: list[np.ndarray], method: str | None, cfg: AudioConfig, threads: int, procs: int,
          repeats: int, pool: mp.pool.Pool | None) -> float:
    """Audio seconds per wall second; ``method=None`` measures log-mel + energy without F0."""
    audio_s = sum(len(w) for w in wavs) / cfg.sample_rate
    torch.set_num_threads(threads)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        if procs > 1:
            pool.map(_work, [(wavs[k::procs], method, cfg.to_dict()) for k in range(procs)])
        elif method is None:
            for w in wavs:
                mag = features.stft_magnitude(w, cfg)
                features._mel_from_magnitude(mag, cfg), features._energy_from_magnitude(mag)
        else:
            for w in wavs:
                features.extract_features(w, cfg, f0_method=method)
        best = min(best, time.perf_counter() - t0)
    torch.set_num_threads(1)
    return audio_s / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="audio to synthesize")
    ap.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    ap.add_argument("--slow-seconds", type=float, default=12.0,
                    help="audio used for the slow methods (harvest, pyin), to keep the run short")
    args = ap.parse_args()
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is not installed (apt-get install espeak-ng)")
    torch.set_num_threads(1)
    cfg = AudioConfig()
    with tempfile.TemporaryDirectory() as tmp:
        synthesize(Path(tmp), 1.0, cfg)  # warm-up: imports, pyloudnorm filters
        wavs, prep_s = synthesize(Path(tmp), args.seconds, cfg)
    audio_s = sum(len(w) for w in wavs) / cfg.sample_rate
    print(f"{len(wavs)} utterances, {audio_s:.1f} s of espeak-ng audio; load + trim + loudness "
          f"(preprocess): {audio_s / prep_s:.0f}x real time, 1 thread")
    print("load average before: %.2f %.2f %.2f (other work on the 2 cores slows every column)" % os.getloadavg())
    # Warm up lazy work (librosa filterbank, numba in pyin) so it is not billed to the first method.
    for m in features.F0_METHODS:
        features.extract_features(wavs[0][: cfg.sample_rate], cfg, f0_method=m)

    slow = []
    for w in wavs:
        if sum(len(s) for s in slow) / cfg.sample_rate >= args.slow_seconds:
            break
        slow.append(w)
    rows = [("mel+energy only", None, wavs)] + [
        (m, m, slow if m in ("harvest", "pyin") else wavs) for m in features.F0_METHODS]
    print(f"\n{'F0 method':18s} {'audio s':>8s} {'1 thread':>10s} {'2 threads':>10s} {'2 procs':>10s}"
          "   (x real time, mel + energy + F0)")
    table = {}
    for name, method, ws in rows:  # in-process columns first: the pool's warm-up would compete for cores
        reps = 1 if method in ("harvest", "pyin") else args.repeats
        table[name] = [sum(len(w) for w in ws) / cfg.sample_rate,
                       speed(ws, method, cfg, 1, 1, reps, None), speed(ws, method, cfg, 2, 1, reps, None)]
    with mp.get_context("spawn").Pool(2, initializer=_warm, initargs=(cfg.to_dict(),)) as pool:
        pool.map(time.sleep, [0.5, 0.5], chunksize=1)  # wait until both workers are warm
        for name, method, ws in rows:
            reps = 1 if method in ("harvest", "pyin") else args.repeats
            table[name].append(speed(ws, method, cfg, 1, 2, reps, pool) if method else float("nan"))
    for name, (secs, s1, s2, p2) in table.items():
        print(f"{name:18s} {secs:8.1f} {s1:10.1f} {s2:10.1f} {p2:10.1f}")
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
