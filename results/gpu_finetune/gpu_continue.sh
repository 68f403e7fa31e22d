#!/usr/bin/env bash
# Continue training the bundled synthfaces64 on a lent GPU and measure what more training buys (#3's FID question).
# MODE finetune: two fine-tunes side by side from the shipped G_ema (a fresh D, warmed up alone for 10 kimg): the
#   shipped recipe's lr and a lower one. The latest and mid-run snapshots, logs, grids and the factor coverage of
#   each latest come back under $OUT (FID afterwards on the CPU with benchmarks/compare_generators.py: the
#   Inception file is too big to carry to the device).
# MODE d-only: how fast a fresh D learns to tell the shipped G's samples from renders (G frozen), at two lrs.
# Results of the 2026-11-30 H200 session: results/gpu_finetune/NOTES.md.
# Usage (device tool):  bash results/gpu_finetune/gpu_continue.sh [MINUTES] [N_DATA] [DEVICE] [MODE]
set -uo pipefail
MIN=${1:-6}; NDATA=${2:-100000}; DEV=${3:-cuda}; MODE=${4:-finetune}; OUT=${OUT:-/tmp/gpu_continue_out}
mkdir -p "$OUT" data runs
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
PY=python3
{ date -u; $PY -c "import torch;print(torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())"; } 2>&1 | tee "$OUT/run.log"
t0=$(date +%s)
$PY -m ganlens data build synthfaces --n "$NDATA" --seed 0 --out data/sf.npz 2>&1 | grep -v "img/s" | tee -a "$OUT/run.log"
echo "data built in $(( $(date +%s) - t0 )) s" | tee -a "$OUT/run.log"
INIT=src/ganlens/assets/synthfaces64.safetensors
if [ "$MODE" = d-only ]; then
  for lr in 0.0025 0.01; do
    $PY -m ganlens train gan --data data/sf.npz --init "$INIT" --kimg 5000 --batch 128 --gamma 0.05 --ema-kimg 20 \
        --d-warmup 5000 --snap 20 --device "$DEV" --max-minutes "$MIN" --lr $lr --out runs/D$lr > runs/D$lr.log 2>&1 &
  done
  wait
  for lr in 0.0025 0.01; do cp runs/D$lr/log.jsonl "$OUT/d_only_log_lr$lr.jsonl"; done
  exit 0
fi
common=(--data data/sf.npz --init "$INIT" --kimg 5000 --batch 128 --gamma 0.05 --ema-kimg 20 --d-warmup 10 --snap 50
        --device "$DEV" --max-minutes "$MIN" --name synthfaces64)
$PY -m ganlens train gan "${common[@]}" --out runs/A --lr 0.0025 > runs/A.log 2>&1 &
$PY -m ganlens train gan "${common[@]}" --out runs/B --lr 0.001 > runs/B.log 2>&1 &
wait
for r in A B; do
  tail -c 600 runs/$r.log | tr '\r' '\n' | tail -3 | tee -a "$OUT/run.log"
  latest=$(ls runs/$r/snapshot-*.safetensors | tail -1)
  snaps=($(ls runs/$r/snapshot-*.safetensors)); mid=${snaps[$(( ${#snaps[@]} / 2 ))]}
  cp "$latest" "$OUT/${r}_latest.safetensors"; cp "$mid" "$OUT/${r}_mid.safetensors"
  echo "$r latest $latest mid $mid" | tee -a "$OUT/run.log"
  $PY benchmarks/model_quality.py --model "$latest" --n 5000 --parts coverage --device "$DEV" \
      --out runs/$r/coverage.json --grid runs/$r/samples.png 2>&1 | tail -20 >> "$OUT/run.log"
done
tar czf "$OUT/small.tar.gz" runs/A/log.jsonl runs/B/log.jsonl runs/A/config.json runs/B/config.json \
    runs/A/coverage.json runs/B/coverage.json runs/A/samples.png runs/B/samples.png $(ls runs/A/grid-*.png runs/B/grid-*.png)
echo "total $(( $(date +%s) - t0 )) s" | tee -a "$OUT/run.log"
