#!/usr/bin/env bash
# GPU train-step throughput and model FLOPs utilisation, on synthetic data, < 10 minutes.
#
#   bash benchmarks/gpu.sh              # from the repository root, on a machine with a GPU
#   bash benchmarks/gpu.sh --dry-run    # the same rows on the CPU with LeNet-5, in seconds
#
# Sets up and checks the machine (benchmarks/gpu_env.sh), then one row each
# (benchmarks/train_step.py through benchmarks/gpu_row.py) for:
#   ResNet-50, 224x224, batch 256, bfloat16   (the standard ImageNet throughput setting)
#   ResNet-20, 32x32,  batch 1024, bfloat16 and float32
#   ResNet-20 again, bfloat16, through jax.distributed as a group of one process (the
#   path of `python -m train --coordinator ...`)
# Each prints one JSON line with img_per_s, model_tflop_per_s and mfu (model FLOPs per
# second over the GPU's dense peak: benchmarks/gpu_peaks.py), appended to
# benchmarks/results/gpu_<gpu>.jsonl. A failed row prints its error and the others still
# run; the exit status is 1 if any failed. SECONDS_EACH (default 20) is each row's
# measuring time.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benchmarks/gpu_env.sh
source benchmarks/gpu_env.sh "$@"
BUDGET_S=${BUDGET_S:-570}
seconds=${SECONDS_EACH:-20}
setup

train_step_row resnet50_bf16 150 resnet50 256 bfloat16 "$seconds"
train_step_row resnet20_bf16 90 resnet20 1024 bfloat16 "$seconds"
train_step_row resnet20_fp32 90 resnet20 1024 float32 "$seconds"
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
train_step_row resnet20_bf16_distributed 90 resnet20 1024 bfloat16 "$seconds" \
  --coordinator "127.0.0.1:$port" --num-processes 1 --process-id 0
finish gpu.sh
