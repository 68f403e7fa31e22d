#!/usr/bin/env bash
# One stint of the synthfaces64 v2 campaign on a lent GPU, for the device tool (run from the repository root):
#   run: bash benchmarks/campaign_gpu.sh 9 128        (minutes of training, batch size; timeout_s about 600)
# It renders the training set there, resumes from the committed campaign/synthfaces64-v2/state.safetensors, trains
# for MINUTES with the recipe's options (at BATCH, R1 gamma scaled to match), and leaves in $OUT the packed state,
# the log, the newest snapshots with their grids and the device's name. Back here:
#   python benchmarks/campaign.py adopt <files_at>/    then    campaign.py pack    and commit.
set -euo pipefail
MIN=${1:-9}; BATCH=${2:-128}; OUT=${OUT:-/tmp/campaign_gpu_out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
{ date -u; python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name())"; nproc; } | tee "$OUT/device.txt"
python3 benchmarks/campaign.py gpu-stint --minutes "$MIN" --batch "$BATCH" --out "$OUT" 2>&1 | sed "/img\/s/d"
tail -2 "$OUT/log.jsonl"
