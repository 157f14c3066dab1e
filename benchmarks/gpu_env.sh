# Sourced by the GPU scripts (gpu.sh, gpu_faster_rcnn.sh): the interpreter, the Python
# packages jcnn needs that a GPU image may lack, and a check that JAX sees a GPU.
#
# jcnn itself is used from the checkout. A missing package is installed from PyPI, or
# offline from wheels in $JCNN_WHEELS (default ./.whl), e.g. made on another machine:
#   pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --platform manylinux2014_x86_64 -d .whl ml_collections pycocotools
PY=${PYTHON:-python3}

need() {  # pip-name[:import-name] ...: installs those that do not import
  local spec pkg module wheels=${JCNN_WHEELS:-.whl}
  for spec in "$@"; do
    pkg=${spec%%:*} module=${spec#*:}
    "$PY" -c "import $module" 2>/dev/null && continue
    "$PY" -m pip install -q "$pkg" 2>/dev/null \
      || "$PY" -m pip install -q --no-index --no-deps --find-links "$wheels" "$pkg" \
      || { echo "$(basename "$0"): cannot install $pkg (no network, no wheel in $wheels)" >&2
           exit 1; }
  done
}

require_gpu() {  # prints the JAX version and the GPUs, or exits naming what it saw
  "$PY" - "$(basename "$0")" <<'PYEOF'
import jax, sys
gpus = [d for d in jax.devices() if d.platform == "gpu"]
if not gpus:
  sys.exit(f"{sys.argv[1]}: JAX sees no GPU (devices: {jax.devices()})")
print(f"# jax {jax.__version__}, {len(gpus)} x {gpus[0].device_kind}", flush=True)
PYEOF
}
