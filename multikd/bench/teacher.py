"""`multikd bench teacher`: does a trained model speak each of its languages? Per-language scores.

For every language of the model, up to N held-out test utterances (a prepared *test* split: sentences
never read in training) are synthesised with the model for the same speaker, and compared with the
reference recording of that speaker: MCD (DTW), log-F0 RMSE, V/UV error, duration error. Two
reference points are measured side by side, so a number can be read:

- ``resynth``: the reference's own mel through the same vocoder (Griffin-Lim) — the floor the vocoder
  alone imposes, whatever the acoustic model does;
- for English, the word error rate of the offline pocketsphinx recogniser on the model's speech next to
  its WER on the reference recordings (the recogniser is far from perfect even on those).
"""
from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from pathlib import Path

from multikd.bench import register_bench, table


def _add(p):
    p.add_argument("--model", required=True, help="model folder (train-teacher's RUN/model)")
    p.add_argument("--test", required=True, help="prepared folder of held-out test utterances (prepare --split test)")
    p.add_argument("--per-language", type=int, default=8, help="test utterances per language")
    p.add_argument("--out", help="write wavs, per-utterance rows and the summary here")
    p.add_argument("--no-wer", action="store_true", help="skip the (slow) English recogniser")


@register_bench("teacher", "per-language MCD/F0/V-UV/duration of a model on held-out sentences; English WER",
                add_arguments=_add)
def run(args) -> int:
    import datasets
    import numpy as np
    import soundfile as sf
    import torch

    from multikd.audio.features import log_mel
    from multikd.audio.io import load_audio
    from multikd.errors import SymbolTableError
    from multikd.evaluate import evaluate_pairs, metric_names
    from multikd.synthesis import Synthesizer

    synth = Synthesizer(args.model)
    sr = synth.sample_rate
    test_dir = Path(args.test)
    ds = datasets.load_from_disk(str(test_dir / "dataset")).select_columns(["id", "language", "speaker", "text", "wav"])
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="multikd-bench-teacher-"))
    out.mkdir(parents=True, exist_ok=True)
    chosen: dict[str, list[dict]] = defaultdict(list)
    for row in ds:  # dataset order is deterministic: the first N usable rows per language
        if row["language"] in synth.languages and row["speaker"] in synth.speakers \
                and len(chosen[row["language"]]) < args.per_language:
            chosen[row["language"]].append(row)
    use_wer = not args.no_wer and "wer" in metric_names()
    rows_out, results = [], []
    excluded: dict[str, list[str]] = defaultdict(list)
    for lang in sorted(chosen):
        model_pairs, resynth_pairs = [], []
        for row in chosen[lang]:
            ref = test_dir / row["wav"]
            try:
                wav, _ = synth.speak(row["text"], lang, speaker=row["speaker"])
            except SymbolTableError as e:  # a phone never seen in training: counted and shown, not hidden
                excluded[lang].append(f"{row['id']}: {e.what}")
                continue
            hyp = out / "model" / f"{row['id']}.wav"
            hyp.parent.mkdir(parents=True, exist_ok=True)
            sf.write(hyp, wav, sr)
            ref_wav = load_audio(ref, sr)
            with torch.no_grad():
                mel = log_mel(ref_wav, synth.audio).T.unsqueeze(0)  # [1, T, n_mels]
                resynth = synth.vocoder.vocode(mel)[0].cpu().numpy()
            rs = out / "resynth" / f"{row['id']}.wav"
            rs.parent.mkdir(parents=True, exist_ok=True)
            sf.write(rs, np.clip(resynth, -1, 1), sr)
            model_pairs.append((hyp, ref, row["text"], lang))
            resynth_pairs.append((rs, ref, row["text"], lang))
        metrics = ["mcd", "f0_rmse", "vuv_error", "duration"]
        m_rows, m_sum = evaluate_pairs(model_pairs, metrics, progress=False)
        _, r_sum = evaluate_pairs(resynth_pairs, ["mcd"], progress=False)
        wer_model = wer_ref = None
        if use_wer and lang == "eng":
            _, w = evaluate_pairs(model_pairs, ["wer"], progress=False)
            _, wr = evaluate_pairs([(r, r, t, lg) for _, r, t, lg in model_pairs], ["wer"], progress=False)
            wer_model, wer_ref = w["corpus"].get("wer_pooled"), wr["corpus"].get("wer_pooled")
        v = m_sum["values"]
        res = {"language": lang, "n": len(model_pairs), "excluded": excluded[lang],
               "mcd_db": v["mcd_db"], "mcd_resynth_db": r_sum["values"]["mcd_db"],
               "f0_rmse_cents": v.get("f0_rmse_cents"), "vuv_error": v.get("vuv_error"),
               "duration_log_error": v.get("duration_log_error"), "wer_model": wer_model, "wer_reference": wer_ref}
        results.append(res)
        rows_out += m_rows

    def ci(d):
        return f"{d['mean']:.2f} ± {(d['ci_high'] - d['ci_low']) / 2:.2f}" if d and d.get("n") else "-"

    trows = [[r["language"], r["n"], ci(r["mcd_db"]), ci(r["mcd_resynth_db"]), ci(r["f0_rmse_cents"]),
              ci(r["vuv_error"]), ci(r["duration_log_error"]),
              "-" if r["wer_model"] is None else f"{r['wer_model']:.2f} (ref {r['wer_reference']:.2f})"]
             for r in results]
    print(f"\nmodel {args.model}; held-out test sentences from {args.test}; Griffin-Lim vocoder\n")
    print(table(trows, ["lang", "n", "MCD dB", "MCD resynth (vocoder floor)", "F0 RMSE cents", "V/UV err",
                        "|log dur ratio|", "WER pocketsphinx"]))
    for lang, why in sorted((k, v) for k, v in excluded.items() if v):
        print(f"excluded in {lang}: {len(why)} sentence(s) with phones the model never saw — " + "; ".join(why))
    (out / "summary.json").write_text(json.dumps(results, indent=1, default=str))
    (out / "rows.json").write_text(json.dumps(rows_out, indent=1, default=str))
    print(f"\nwavs and scores: {out}")
    return 0
