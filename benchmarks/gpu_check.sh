#!/usr/bin/env bash
# The device check, sized for one short GPU lease: the model twin tests on CUDA (cuDNN RNNs, flash and flex
# attention against their naive twins, fp32 without TF32), one training run on the GPU, then the GPU-only
# measurements of the `full` suite into one store and the report built from it.
# Usage: benchmarks/gpu_check.sh OUT_DIR [LENGTH_EXPONENT_MAX]   (needs torch with CUDA and seqarena importable)
set -u
out=${1:?output folder}
max_exponent=${2:-14}
store=$out/gpu.sqlite
lengths=$(python3 -c "print([2**k for k in range(8, $max_exponent + 1)])" | tr -d ' ')
export PYTHONUNBUFFERED=1
step() {
    local seconds=$1 name=$2
    shift 2
    echo "== $name"
    local start=$SECONDS
    timeout "$seconds" "$@" >>"$out/$name.log" 2>&1
    echo "== $name: exit $? after $((SECONDS - start)) s"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, seqarena; print('torch', torch.__version__, torch.cuda.get_device_name())"
SEQARENA_TEST_DEVICE=cuda step 120 tests python3 -m pytest -q -p no:cacheprovider tests/models
tail -25 "$out/tests.log"
step 40 train python3 -m seqarena train --model transformer --task adding --task-option length=200 --steps 300 \
    --device cuda --store "$store" --json
step 150 scaling python3 -m seqarena measure scaling --store "$store" \
    --models rnn,lstm,gru,mingru,transformer,longformer,reformer --option device=cuda --option dtype=bfloat16 \
    --option d_model=512 --option batch=8 --option heads=8 --option "lengths=$lengths" --option max_seconds=3 \
    --option max_memory_gb=60
step 50 parallelism python3 -m seqarena measure parallelism --store "$store" --models rnn,lstm,gru,mingru,transformer \
    --option device=cuda --option length=1024 --option d_model=512 --option "threads=[16]"
step 70 latency python3 -m seqarena measure latency --store "$store" --models rnn,lstm,gru,mingru,transformer,longformer \
    --option device=cuda --option "contexts=[128,1024,4096]"
step 40 flops python3 -m seqarena measure flops --store "$store" \
    --models rnn,lstm,gru,mingru,transformer,longformer,reformer --option device=cuda --option dtype=bfloat16
step 30 report python3 -m seqarena report --store "$store" --out "$out/report"
tar -czf "$out/report.tgz" -C "$out" report && rm -rf "$out/report"
