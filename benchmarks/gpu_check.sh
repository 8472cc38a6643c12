#!/usr/bin/env bash
# The device check, one call within 10 minutes on one H100: seqarena's transformer, longformer (w=256), reformer,
# mingru (also with its feed-forward recomputed in backward), lstm and gru beside torch's nn.TransformerEncoder,
# cuDNN's nn.LSTM / nn.GRU and HF's LongformerModel and ReformerModel (the `bench` extra), all bf16, d_model 512,
# batch 8, 2 layers, training steps at T = 1K ... 64K (each series stops where a step exceeds 2 s or memory runs
# out); then the ratio table against the GPU targets (benchmarks/targets.py); then the model twin tests on CUDA
# (fp32, no TF32) with the time left.
# Usage: benchmarks/gpu_check.sh OUT_DIR   (needs torch with CUDA and seqarena importable)
set -u
out=${1:?output folder}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, seqarena; print('torch', torch.__version__, torch.cuda.get_device_name())"
python3 -c "import transformers; print('transformers', transformers.__version__)" || echo "transformers: not installed"
start=$SECONDS
timeout 400 python3 benchmarks/scaling.py --device cuda --dtype bfloat16 --d-model 512 --batch 8 --layers 2 \
    --heads 8 --window 256 --bucket-size 64 --lengths 1024 4096 16384 65536 --repeats 5 --max-seconds 2 \
    --max-memory-gb 70 --fit-from 1024 --models transformer longformer reformer mingru mingru-ffn-recompute lstm gru \
    >"$out/kernels.jsonl" 2>"$out/kernels.log"
echo "== kernels: exit $? after $((SECONDS - start)) s, $(grep -c '"point"' "$out/kernels.jsonl") points"
grep -E '"(error|skipped)"' "$out/kernels.jsonl"
python3 benchmarks/targets.py "$out/kernels.jsonl" --markdown "$out/targets.md" >"$out/targets.jsonl"
cat "$out/targets.md"
start=$SECONDS
SEQARENA_TEST_DEVICE=cuda timeout 120 python3 -m pytest -q -p no:cacheprovider tests/models >"$out/tests.log" 2>&1
echo "== twin tests on CUDA: exit $? after $((SECONDS - start)) s"
tail -5 "$out/tests.log"
