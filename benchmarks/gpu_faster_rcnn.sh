#!/usr/bin/env bash
# Faster R-CNN with VGG-16 at 600x1000 on a GPU, float32 then bfloat16, < 8 minutes.
#
#   bash benchmarks/gpu_faster_rcnn.sh            # from the repository root, on a GPU machine
#   bash benchmarks/gpu_faster_rcnn.sh --dry-run  # the same rows on the CPU, small_vgg on
#                                                 # 64x96 digit canvases, in seconds
#
# Sets up and checks the machine (benchmarks/gpu_env.sh), then one row per dtype:
# benchmarks/faster_rcnn.py with the paper's VGG-16 config on the raccoon photos that fit
# 600x1000 (gpu_env.sh's faster_rcnn_rows): train images/s and inference ms/image beside
# the backbone alone, and the RPN's proposals ms/image beside selective search fast mode
# (on the machine's CPU, as in the paper). Three JSON lines per dtype, appended to
# benchmarks/results/gpu_<gpu>.jsonl; a row that fails keeps the lines it printed, and the
# other dtype still runs. SECONDS_EACH (default 10) is each measure's time.
#
# The photos come from $JCNN_DATA_DIR/raccoon (gpu_env.sh says where it looks by default).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benchmarks/gpu_env.sh
source benchmarks/gpu_env.sh "$@"
BUDGET_S=${BUDGET_S:-570}
setup

faster_rcnn_rows 240 "${SECONDS_EACH:-10}" 10
finish gpu_faster_rcnn.sh
