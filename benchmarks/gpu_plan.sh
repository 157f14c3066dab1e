#!/usr/bin/env bash
# The GPU plan: what one short GPU loan should measure, in 9.5 minutes, setup included.
#
#   bash benchmarks/gpu_plan.sh             # from the repository root, on a GPU machine
#   bash benchmarks/gpu_plan.sh --dry-run   # the same rows on the CPU at tiny sizes
#
# After the setup and the check (benchmarks/gpu_env.sh; at most SETUP_S = 240 s of pip):
#   1. ResNet-50, 224x224, batch 256, bfloat16: train img/s and MFU (at most 120 s);
#   2. Faster R-CNN, VGG-16 at 600x1000 on the raccoon photos, float32 then bfloat16
#      (at most 150 s each; issue 13's open row): gpu_faster_rcnn.sh's rows, 5 s a measure;
#   3. ResNet-20's CIFAR-10 recipe (train/configs/resnet20_cifar10.py, 64k steps of batch
#      128) end to end through `python -m train`, after the bare step and the input pipeline
#      alone: img/s and whether the input keeps up (benchmarks/gpu_recipe.py). Last, with
#      whatever time is left: a run stopped at the end of the budget still reports its
#      steps and img/s ("finished": false). The recipe is the config's, except that it
#      evaluates and checkpoints every 8,000 steps rather than every epoch (164 evaluations
#      would cost GPU minutes the plan does not have).
# Every row is isolated (a failed one prints its error and the next runs) and no row runs
# past BUDGET_S (570) seconds from the start. Every JSON line is appended to
# benchmarks/results/gpu_<gpu>.jsonl with the GPU's name, jax and jaxlib, and the commit
# (JCNN_COMMIT where the checkout has no .git), then one line with the plan's wall time.
# Exit status 1 if any row failed. Data: $JCNN_DATA_DIR/cifar10/cifar10_jpeg_q75.zip and
# $JCNN_DATA_DIR/raccoon; benchmarks/README.md (GPU section) says how to run the plan on a
# machine that reaches no package registry.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benchmarks/gpu_env.sh
source benchmarks/gpu_env.sh "$@"
BUDGET_S=${BUDGET_S:-570}
setup

train_step_row resnet50_bf16 120 resnet50 256 bfloat16 15
faster_rcnn_rows 150 5 10
recipe=(--seconds 5 --config.checkpoint_every_steps=8000)
if ((DRY_RUN)); then  # the same three parts: a few steps of a small CIFAR net
  recipe=(--seconds 0.1 --config.model=cifar_convnet --config.num_train_steps=3
          --config.batch_size=16 --config.eval_batch_size=20 --config.checkpoint_every_steps=3
          --config.log_every_steps=1)
fi
row resnet20_cifar10 "$BUDGET_S" benchmarks/gpu_recipe.py --config resnet20_cifar10 "${recipe[@]}"
finish gpu_plan.sh
