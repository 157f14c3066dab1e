#!/usr/bin/env bash
# Faster R-CNN with VGG-16 at 600x1000 on a GPU, float32 then bfloat16, about 6 minutes.
#
#   bash benchmarks/gpu_faster_rcnn.sh       # from the repository root, on a GPU machine
#
# benchmarks/faster_rcnn.py with the paper's VGG-16 config on the raccoon photos that
# fit 600x1000 after py-faster-rcnn's resize (the landscape ones), fresh weights, batch 1
# as the paper trains: train images/s and inference ms/image beside the backbone alone,
# and the RPN's proposals ms/image beside selective search fast mode (on the machine's
# CPU, as in the paper). Prints one JSON line per measure and dtype.
#
# The photos come from $JCNN_DATA_DIR/raccoon (default ../shared/data). A machine that
# gets only this checkout needs them inside it, in a git-ignored folder:
#   echo /.data/ >> .git/info/exclude; mkdir -p .data; cp -r ../shared/data/raccoon .data/
# then run with JCNN_DATA_DIR=.data (the device tool: carry ".data", and ".whl" with
# the wheels of ml_collections and pycocotools, which its image lacks; gpu_env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benchmarks/gpu_env.sh
source benchmarks/gpu_env.sh
SECONDS_EACH=${SECONDS_EACH:-10}
export JCNN_DATA_DIR=${JCNN_DATA_DIR:-$(cd .. && pwd)/shared/data}
[[ -d "$JCNN_DATA_DIR/raccoon" ]] \
  || { echo "gpu_faster_rcnn.sh: no raccoon photos in $JCNN_DATA_DIR/raccoon" >&2; exit 1; }
need ml_collections pycocotools scikit-image:skimage jax flax optax chex
require_gpu

for dtype in float32 bfloat16; do
  JCNN_XLA_CPU_FLAGS=0 XLA_PYTHON_CLIENT_PREALLOCATE=false "$PY" benchmarks/faster_rcnn.py \
    --config train/configs/faster_rcnn_vgg16_voc07.py --dataset raccoon --input 600x1000 \
    --dtype "$dtype" --seconds "$SECONDS_EACH" --ss-images 10
done
