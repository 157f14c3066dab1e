#!/usr/bin/env bash
# GPU train-step throughput and model FLOPs utilisation, on synthetic data, < 10 minutes.
#
#   bash benchmarks/gpu.sh            # from the repository root, on a machine with a GPU
#
# Installs what is missing (benchmarks/gpu_env.sh), checks that JAX sees a GPU, then runs
# benchmarks/train_step.py for:
#   ResNet-50, 224x224, batch 256, bfloat16   (the standard ImageNet throughput setting)
#   ResNet-20, 32x32,  batch 1024, bfloat16 and float32
#   ResNet-20 again through jax.distributed: 1 process, then 2 sharing the GPU
# and prints one JSON line each, with img_per_s, model_tflop_per_s and mfu (model FLOPs
# per second over the chip's dense peak: bf16 tensor-core peak, TF32 peak for float32).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benchmarks/gpu_env.sh
source benchmarks/gpu_env.sh
SECONDS_EACH=${SECONDS_EACH:-20}
need ml_collections jax flax optax chex
require_gpu

run() {  # model batch dtype -> one JSON line with mfu added
  JCNN_XLA_CPU_FLAGS=0 XLA_PYTHON_CLIENT_PREALLOCATE=false "$PY" benchmarks/train_step.py --model "$1" \
      --batch "$2" --dtype "$3" --mode train --seconds "$SECONDS_EACH" --flops \
    | "$PY" -c '
import json, sys
r = json.loads(sys.stdin.read().strip().splitlines()[-1])
# Dense peaks (TFLOP/s) from the vendor data sheets: (bf16 tensor core, TF32 tensor core).
peaks = {"H200": (989, 494), "H100": (989, 494), "A100": (312, 156), "L4": (121, 60),
         "A10": (125, 62), "V100": (125, 15.7), "T4": (65, 8.1)}
kind = r["device"]
peak = next((p for name, p in peaks.items() if name in kind), None)
if peak:
  r["peak_tflop_per_s"] = peak[0] if r["dtype"] == "bfloat16" else peak[1]
  r["mfu"] = round(r["model_tflop_per_s"] / r["peak_tflop_per_s"], 4)
print(json.dumps(r), flush=True)'
}

run resnet50 256 bfloat16
run resnet20 1024 bfloat16
run resnet20 1024 float32

# The multi-process path (jax.distributed, as `python -m train --coordinator ...`): one
# process in a group of one, then two processes sharing the one GPU, each feeding half
# of the global batch. NCCL refuses two ranks on one GPU on most setups; the script then
# says so and ends normally.
group() {  # processes -> process 0's JSON line
  local n=$1 port
  port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  local pids=() out
  out=$(mktemp)
  for ((i = 0; i < n; i++)); do
    JCNN_XLA_CPU_FLAGS=0 XLA_PYTHON_CLIENT_PREALLOCATE=false CUDA_VISIBLE_DEVICES=0 \
      "$PY" benchmarks/train_step.py --model resnet20 --batch 1024 --dtype bfloat16 \
      --mode train --seconds "$SECONDS_EACH" --coordinator "127.0.0.1:$port" \
      --num-processes "$n" --process-id "$i" > "$out.$i" 2>&1 &
    pids+=($!)
  done
  local failed=0
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  if ((failed)); then
    echo "# $n processes on one GPU: not possible here: $(grep -m1 -iE 'error|nccl' "$out".* | cut -c1-300)"
  else
    grep '^{' "$out.0" | tail -1 || true
  fi
  rm -f "$out" "$out".*
}
group 1
group 2
