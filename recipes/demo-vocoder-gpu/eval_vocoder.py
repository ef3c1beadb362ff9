"""Copy synthesis: vocoder(log_mel(ref)) vs ref, for Griffin-Lim and the GPU-trained vocoders."""
import json, sys, time, collections
from pathlib import Path
import numpy as np, soundfile as sf, torch
torch.set_num_threads(1)
from multikd.audio.config import AudioConfig
from multikd.audio.features import log_mel
from multikd.vocoder import load_vocoder
from multikd.evaluate.pairs import evaluate_pairs

N = int(sys.argv[1]) if len(sys.argv) > 1 else 4
out = Path("out/gpu/vocoder-eval"); out.mkdir(parents=True, exist_ok=True)
audio = AudioConfig.from_dict(json.load(open("out/demo/prepared/teacher-test/config.json"))["audio"])
systems = {"griffinlim": load_vocoder("griffinlim", audio),
           "vocos-large": load_vocoder("runs/vocoder-gpu/large/model", audio),
           "vocos-small": load_vocoder("runs/vocoder-gpu/small/model", audio)}
items = []
for folder in ["out/demo/prepared/teacher-test", "out/demo/prepared/target-cat-15min"]:
    rows = [json.loads(l) for l in open(f"{folder}/metadata.jsonl")]
    by = collections.defaultdict(lambda: collections.defaultdict(list))
    for r in sorted(rows, key=lambda r: r["id"]):
        by[r["language"]][r["speaker"]].append(r)
    for lang, spk in by.items():  # round-robin over the language's speakers
        picked, k = [], 0
        while len(picked) < N and any(len(v) > k for v in spk.values()):
            picked += [v[k] for v in spk.values() if len(v) > k]; k += 1
        items += [(folder, r) for r in picked[:N]]
pairs = {s: [] for s in ["reference", *systems]}
secs = collections.Counter(); audio_s = 0.0
for folder, r in items:
    ref = Path(folder) / r["file_name"]
    wav, sr = sf.read(str(ref), dtype="float32"); audio_s += len(wav) / sr
    mel = log_mel(torch.from_numpy(wav), audio).T[None]
    pairs["reference"].append((ref, ref, r["text"], r["language"]))
    for name, voc in systems.items():
        t = time.perf_counter(); y = voc.vocode(mel)[0].numpy(); secs[name] += time.perf_counter() - t
        p = out / name / f"{r['id']}.wav"; p.parent.mkdir(exist_ok=True)
        sf.write(str(p), y, sr, subtype="PCM_16")
        pairs[name].append((p, ref, r["text"], r["language"]))
table = {}
for name, ps in pairs.items():
    rows, summary = evaluate_pairs(ps, ["mcd", "dnsmos"] if name != "reference" else ["dnsmos"], progress=False)
    table[name] = rows
    json.dump(rows, open(out / f"{name}.json", "w"), indent=1, default=str)
keys = [k for k in table["griffinlim"][0] if k.startswith("mcd") or "ovrl" in k.lower()]
print("keys", list(table["griffinlim"][0]))
langs = list(dict.fromkeys(r["lang"] for r in table["griffinlim"]))
mk = [k for k in table["griffinlim"][0] if k.startswith("mcd")][0]
dk = [k for k in table["griffinlim"][0] if "ovrl" in k.lower()] or [k for k in table["griffinlim"][0] if "dnsmos" in k.lower()]
dk = dk[0]
print(f"\n| lang | n | MCD GL | MCD large | MCD small | DNSMOS ref | DNSMOS GL | DNSMOS large | DNSMOS small |  ({mk}, {dk})")
print("|---|---|---|---|---|---|---|---|---|")
def m(name, lang, key):
    v = [r[key] for r in table[name] if (lang is None or r["lang"] == lang) and r.get(key) is not None]
    return np.mean(v), len(v)
for lang in langs + [None]:
    n = m("griffinlim", lang, mk)[1]
    cells = [f"{m(s, lang, mk)[0]:.2f}" for s in systems] + [f"{m(s, lang, dk)[0]:.2f}" for s in ["reference", *systems]]
    print(f"| {lang or 'all'} | {n} | " + " | ".join(cells) + " |")
print(f"\nCPU RTF, one thread, on {audio_s:.1f} s of audio:", {k: round(v / audio_s, 4) for k, v in secs.items()})
