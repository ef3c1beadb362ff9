#!/usr/bin/env bash
# The offline demo: everything that exists today, end to end, on this machine, with no downloads.
# Outputs go to out/demo/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
MK=.venv/bin/multikd
OUT=${MULTIKD_DEMO_OUT:-out/demo}
mkdir -p "$OUT"

echo "== 1. Front end: one test sentence per language =="
for dir in lexicons/*-*/; do
  iso=$(basename "$dir" | cut -d- -f1)
  sentence=$(grep -v '^#' "$dir/sentences.txt" | head -n 1)
  printf '%s  %s\n     → %s\n' "$iso" "$sentence" "$($MK g2p --lang "$iso" "$sentence")"
done

echo
echo "== 2. Transfer: teacher languages' symbol table, and what the held-out targets lack =="
$MK phones --lang eng --lang spa --lang deu --lang ita --lang ces --lang fin --lang rus --lang hin \
  --write "$OUT/teacher_symbols.json"
$MK phones --lang cat --lang mar --lang swa --against "$OUT/teacher_symbols.json" \
  --merge-into "$OUT/student_symbols.json"

echo
echo "== 3. Validate contributed files =="
$MK check lexicons/ data_cards/

echo
echo "== 4. The synthetic demo corpus (espeak-ng, festival, flite; rendered offline, resumable) =="
$MK corpus demo --out out/demo/corpus --minutes-per-voice "${MULTIKD_DEMO_MINUTES:-2}"
# held-out targets get more audio, for 5/15-minute target sets
$MK corpus demo --out out/demo/corpus --voices festival-ona,festival-nsk-mar,espeak-sw --minutes-per-voice 16
$MK check out/demo/corpus/README.md

echo
echo "== 5. Prepare: teacher languages, and 15 minutes of held-out Catalan (every file accounted for) =="
$MK prepare recipes/demo-teacher/recipe.yaml --out out/demo/prepared/teacher
$MK prepare recipes/demo-target/recipe.yaml --out out/demo/prepared/target-cat-15min
$MK prepare recipes/demo-teacher/recipe.yaml --split test --out out/demo/prepared/teacher-test

echo
echo "== 6. The pretrained demo teacher (pretrained/demo-teacher, trained on the synthetic corpus) speaks =="
mkdir -p "$OUT/samples"
for iso in eng spa deu ita ces fin rus hin; do
  sentence=$(grep -v '^#' "lexicons/$iso-"*/sentences.txt | head -n 1)
  $MK -q synthesize --model pretrained/demo-teacher --lang "$iso" "$sentence" -o "$OUT/samples/$iso.wav"
done

echo
echo "== 7. Evaluation report: the teacher on held-out sentences (MCD, F0, V/UV, duration; HTML) =="
$MK evaluate --systems demo-teacher=pretrained/demo-teacher --lang eng --lang spa --lang hin \
  --test out/demo/prepared/teacher-test --per-language 3 -o "$OUT/eval"

echo
echo "Done. Prepared corpora: out/demo/prepared/*/; teacher samples: $OUT/samples/*.wav;"
echo "report: $OUT/eval/index.html. Distilled students are not part of the demo yet (README status note)."
