"""`multikd bench align`: the learned aligner's phone boundaries against the synthesizers' own timings.

The demo corpus keeps each engine's phone timings (prepare shifts them onto the trimmed audio). Only
espeak-ng's timings are in IPA, the phone space of multikd's front end (festival and flite use their
own phone sets, so their boundaries cannot be paired phone by phone); those utterances are measured.
Our tokens and the reference phones are paired by a minimum-edit alignment on normalised symbols (no
stress, tone or tie bars); for every pair of equal phones, the start times are compared. Stress tokens
are merged into the phone after them and tone tokens into the phone before them, since they carry no
duration of their own in the references.
"""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import numpy as np

from multikd.bench import register_bench, table


SUBSTITUTION = 1.5


def _add(p):
    p.add_argument("--model", required=True, help="model folder whose aligner is measured")
    p.add_argument("--prepared", required=True,
                   help="prepared demo-corpus folder with reference timings (e.g. out/demo/prepared/teacher)")
    p.add_argument("--engine", default="espeak-ng", help="engine whose reference timings are in IPA")
    p.add_argument("--json", help="also write the per-language results here")


def _norm(phone: str) -> str:
    s = unicodedata.normalize("NFD", phone)
    return "".join(c for c in s if c not in "ˈˌ\u0361\u035c" and not ("˥" <= c <= "˩"))


def _segments(phones: list[str], durations: list[int], frame_s: float) -> list[tuple[str, float]]:
    """(normalised phone, start seconds) of every real phone, stress/tone time folded into phones."""
    from multikd.text.ipa import is_stress, is_tone
    from multikd.text.symbols import SPECIALS

    out, t, pending_start = [], 0.0, None
    for p, d in zip(phones, durations):
        if is_stress(p):
            pending_start = t if pending_start is None else pending_start
        elif not is_tone(p) and p not in SPECIALS:
            out.append((_norm(p), pending_start if pending_start is not None else t))
            pending_start = None
        t += d * frame_s
    return out


def _pair(ours: list[tuple[str, float]], ref: list[tuple[str, float]]) -> list[tuple[float, float]]:
    """Start-time pairs of equal phones along a minimum-edit alignment of the two sequences.

    A substitution costs 1.5 (more than one gap, less than two), so among equally short edit paths the
    one that pairs more equal phones wins, while a genuinely different phone is still substituted.
    """
    n, m = len(ours), len(ref)
    cost = np.zeros((n + 1, m + 1))
    cost[:, 0], cost[0, :] = np.arange(n + 1), np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            sub = 0.0 if ours[i - 1][0] == ref[j - 1][0] else SUBSTITUTION
            cost[i, j] = min(cost[i - 1, j - 1] + sub, cost[i - 1, j] + 1, cost[i, j - 1] + 1)
    pairs, i, j = [], n, m
    while i > 0 and j > 0:
        sub = 0.0 if ours[i - 1][0] == ref[j - 1][0] else SUBSTITUTION
        if cost[i, j] == cost[i - 1, j - 1] + sub:
            if sub == 0.0:
                pairs.append((ours[i - 1][1], ref[j - 1][1]))
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return pairs


@register_bench("align", "learned aligner vs the synthesizers' own phone timings: boundary error in ms",
                add_arguments=_add)
def run(args) -> int:
    import datasets

    from multikd.audio.config import AudioConfig
    from multikd.train.align import align_corpus

    prepared = Path(args.prepared)
    audio = AudioConfig.from_dict(json.loads((prepared / "config.json").read_text())["audio"])
    frame_s = audio.hop_length / audio.sample_rate
    refs = {}
    for r in datasets.load_from_disk(str(prepared / "dataset")).select_columns(["id", "ref_alignment"]):
        if r["ref_alignment"]:
            d = json.loads(r["ref_alignment"])
            if d.get("engine") == args.engine:
                refs[r["id"]] = [(_norm(p["phone"]), float(p["start"])) for p in d["phones"]]
    rows = align_corpus(args.model, prepared, progress=True)
    per_lang: dict[str, list[float]] = {}
    counted: dict[str, list[int]] = {}
    for row in rows:
        ref = refs.get(row["id"])
        if not ref:
            continue
        ours = _segments(row["phones"], row["durations"], frame_s)
        pairs = _pair(ours, ref)
        errs = [abs(a - b) * 1000 for a, b in pairs]
        per_lang.setdefault(row["language"], []).extend(errs)
        c = counted.setdefault(row["language"], [0, 0, 0])
        c[0] += 1
        c[1] += len(pairs)
        c[2] += len(ref)
    results, trows = {}, []
    for lang in sorted(per_lang):
        e = np.asarray(per_lang[lang])
        n_utt, n_pairs, n_ref = counted[lang]
        results[lang] = {"utterances": n_utt, "paired_boundaries": n_pairs, "reference_phones": n_ref,
                         "mean_ms": float(e.mean()), "median_ms": float(np.median(e)),
                         "within_20ms": float((e <= 20).mean()), "within_50ms": float((e <= 50).mean())}
        trows.append([lang, n_utt, f"{n_pairs}/{n_ref}", f"{e.mean():.1f}", f"{np.median(e):.1f}",
                      f"{100 * (e <= 20).mean():.0f} %", f"{100 * (e <= 50).mean():.0f} %"])
    print(f"\naligner of {args.model} on {prepared} ({args.engine} timings; frame = {1000 * frame_s:.1f} ms)\n")
    print(table(trows, ["lang", "utterances", "paired / ref phones", "mean abs error ms", "median ms",
                        "<= 20 ms", "<= 50 ms"]))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0
