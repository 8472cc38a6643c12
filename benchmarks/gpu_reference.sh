#!/usr/bin/env bash
# One call of the GPU reference evidence on a lent GPU machine (one H100/H200, 16 cores), resumable across calls:
# runs per minute one at a time against packed (benchmarks/packing.py), then `seqarena run --suite gpu-reference`
# for the seconds left, its export kept under OUT_DIR/gpu-reference (4 files) and started from the committed export
# of the unfinished job in benchmarks/results/gpu-reference when there is one. Copy OUT_DIR/gpu-reference back into
# benchmarks/results/gpu-reference and commit it after each call; the next call goes on from there. Once the job is
# complete (its export holds verdicts), the folder moves to src/seqarena/reference/gpu-reference, a shipped set.
# Usage: benchmarks/gpu_reference.sh OUT_DIR [SECONDS]   (needs torch with CUDA and seqarena importable)
set -u
out=${1:?output folder}
seconds=${2:-420}
mkdir -p "$out/gpu-reference"
for committed in benchmarks/results/gpu-reference src/seqarena/reference/gpu-reference; do
    if [ -f "$committed/runs.jsonl" ]; then
        cp "$committed"/*.json* "$out/gpu-reference/"
        break
    fi
done
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, seqarena; print('torch', torch.__version__, torch.cuda.get_device_name())"
start=$SECONDS
if [ ! -f "$out/gpu-reference/runs.jsonl" ]; then
    timeout 150 python3 benchmarks/packing.py --device cuda --precision bf16 --steps 300 --batch-size 64 \
        >"$out/packing.jsonl" 2>"$out/packing.log"
    echo "== packing: exit $? after $((SECONDS - start)) s"
    cat "$out/packing.jsonl"
fi
left=$((seconds - (SECONDS - start)))
[ "$left" -gt 60 ] || { echo "== gpu-reference: only $left s left after packing; call again"; exit 1; }
timeout "$left" python3 -m seqarena run --suite gpu-reference --store /tmp/gpu-reference.sqlite \
    --checkpoints /tmp/gpu-reference-checkpoints --export "$out/gpu-reference" --resume >"$out/run.log" 2>&1
echo "== gpu-reference: exit $? after $((SECONDS - start)) s"
grep -E '^\[|loaded' "$out/run.log"
python3 -c "import json; a = json.load(open('$out/gpu-reference/about.json')); print(a['runs'], 'runs,', \
a['measurement_rows'], 'measurement rows')"
