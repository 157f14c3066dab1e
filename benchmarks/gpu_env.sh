# Sourced by the GPU scripts (gpu.sh, gpu_faster_rcnn.sh, gpu_plan.sh) from the repository
# root, with the script's arguments: its one option, the setup, `row`, and the rows that
# more than one script runs.
#
#   --dry-run   the same rows on the CPU at tiny sizes (the row functions below say which),
#               without the install and the GPU check: every row still prints its JSON
#               line, with "dry_run": true, and nothing is stored.
#               tests/benchmarks/test_gpu_scripts.py runs every script so: they cannot rot
#               between GPU runs.
#
# setup: from the package registry, `pip install -e '.[cuda12]'` into $PYTHON (default
# python3; a fresh virtualenv's where the machine's python holds another jax build): JAX's
# CUDA 12 build within jcnn's jax range, and jcnn's own dependencies with it. A machine that
# reaches no registry (as the GPU machines lent here): JCNN_WHEELS=DIR keeps the machine's own
# CUDA jax and installs the wheels in DIR without an index (ml_collections and pycocotools:
# benchmarks/README.md, GPU section). Then benchmarks/gpu_check.py: every module the rows
# import is there and JAX sees a GPU. pip shows its errors; any failure ends the script with
# one line saying which step failed, before any row has spent GPU time.
#
# row NAME MAX_S SCRIPT ARGS...: `$PYTHON SCRIPT ARGS` as one row (benchmarks/gpu_row.py):
# for at most MAX_S seconds, and never past BUDGET_S seconds from the script's start. A
# failed row prints its error line and the script goes on; `finish` exits 1 if any failed.
PY=${PYTHON:-python3}
DRY_RUN=0
for arg in "$@"; do
  case $arg in
    --dry-run) DRY_RUN=1 ;;
    *) echo "usage: bash $0 [--dry-run]" >&2; exit 2 ;;
  esac
done
FAILED=0
SETUP_S=${SETUP_S:-240}
# The GPU allocates as it goes (a row's peak, not 75 % of the card, shows in its memory);
# the XLA:CPU flags of the CIFAR ResNets (jcnn.runtime) have nothing to do on a GPU.
export XLA_PYTHON_CLIENT_PREALLOCATE=false JCNN_XLA_CPU_FLAGS=0
if ((DRY_RUN)); then
  export JAX_PLATFORMS=cpu
fi
# The real datasets: $JCNN_DATA_DIR, else the checkout's shared/data (where a copy of the
# checkout sent to a GPU machine brings them), else ../shared/data beside the checkout.
if [[ -z ${JCNN_DATA_DIR:-} ]]; then
  if [[ -d shared/data ]]; then JCNN_DATA_DIR=$PWD/shared/data; else JCNN_DATA_DIR=$(cd .. && pwd)/shared/data; fi
fi
export JCNN_DATA_DIR

setup() {  # installs (not in a dry run), then checks; sets JCNN_GPU and GPU_SLUG
  local out
  if ((!DRY_RUN)); then
    if [[ -n ${JCNN_WHEELS:-} ]]; then
      local wheels=("$JCNN_WHEELS"/*.whl)
      [[ -e ${wheels[0]} ]] || { echo "$0: setup failed: no wheels in JCNN_WHEELS=$JCNN_WHEELS" >&2; exit 1; }
      timeout "$SETUP_S" "$PY" -m pip install --no-index --no-deps --progress-bar off \
          --disable-pip-version-check "${wheels[@]}" \
        || { echo "$0: setup failed: pip could not install the wheels in $JCNN_WHEELS (status $?, 124 = past ${SETUP_S} s; its errors above)" >&2; exit 1; }
    else
      timeout "$SETUP_S" "$PY" -m pip install --progress-bar off --disable-pip-version-check \
          -e '.[cuda12]' \
        || { echo "$0: setup failed: pip install -e '.[cuda12]' (status $?, 124 = past ${SETUP_S} s; its errors above)" >&2; exit 1; }
    fi
  fi
  local check=(benchmarks/gpu_check.py)
  ((DRY_RUN)) && check+=(--dry-run)
  out=$(timeout 120 "$PY" "${check[@]}") || { echo "$0: setup failed: the check above" >&2; exit 1; }
  JCNN_GPU=${out%%$'\n'*}
  GPU_SLUG=${out##*$'\n'}
}

row() {  # NAME MAX_S SCRIPT ARGS...
  local name=$1 max_s=$2
  shift 2
  local left=$((BUDGET_S - SECONDS - 30))  # a stopped row's grace (gpu_row.py) within budget
  ((left < max_s)) && max_s=$((left > 0 ? left : 0))
  local flags=(--timeout "$max_s" --gpu "$JCNN_GPU")
  ((DRY_RUN)) && flags+=(--dry-run)
  echo "# row $name (at most $max_s s; $SECONDS s since the start)" >&2
  "$PY" benchmarks/gpu_row.py "$name" "${flags[@]}" -- "$PY" "$@" || FAILED=$((FAILED + 1))
}

finish() {  # SCRIPT: stores the script's wall time (not in a dry run); exits 1 if a row failed
  if ((!DRY_RUN)); then  # row "total": its command names the script
    "$PY" benchmarks/store.py "gpu_$GPU_SLUG.jsonl" row=total wall_s="$SECONDS" \
      rows_failed="$FAILED" gpu="$JCNN_GPU" --command "bash benchmarks/$1" </dev/null
  fi
  echo "# $1: ${SECONDS} s, $FAILED row(s) failed" >&2
  ((FAILED == 0))
}

train_step_row() {  # NAME MAX_S MODEL BATCH DTYPE SECONDS [FLAGS...]: benchmarks/train_step.py
  local name=$1 max_s=$2 model=$3 batch=$4 dtype=$5 seconds=$6
  shift 6
  if ((DRY_RUN)); then  # what runs, not how fast: LeNet-5 compiles in seconds on a CPU
    model=lenet5 batch=2 seconds=0.1
  fi
  row "$name" "$max_s" benchmarks/train_step.py --model "$model" --batch "$batch" \
    --dtype "$dtype" --mode train --seconds "$seconds" --flops "$@"
}

faster_rcnn_rows() {  # MAX_S SECONDS SS_IMAGES: benchmarks/faster_rcnn.py, float32, bfloat16
  # The paper's VGG-16 on the raccoon photos that fit 600x1000 after py-faster-rcnn's resize
  # (the landscape ones), fresh weights, batch 1 as the paper trains.
  local max_s=$1 seconds=$2 ss_images=$3 dtype
  local data=(--config train/configs/faster_rcnn_vgg16_voc07.py --dataset raccoon --input 600x1000)
  if ((DRY_RUN)); then  # the same flags; small_vgg on digit canvases compiles in seconds
    data=(--config train/configs/faster_rcnn_digits.py --input 64x96) seconds=0.1 ss_images=1
  fi
  for dtype in float32 bfloat16; do
    row "faster_rcnn_vgg16_$dtype" "$max_s" benchmarks/faster_rcnn.py "${data[@]}" \
      --dtype "$dtype" --seconds "$seconds" --ss-images "$ss_images"
  done
}
