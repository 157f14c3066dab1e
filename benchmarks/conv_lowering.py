"""Per layer: XLA's convolution, the banded-GEMM path and oneDNN's convolution.

    python benchmarks/conv_lowering.py [--seconds 1] [--batch 128]

For the convolution layers of LeNet-5 (and LeNet-5 1998, the same shapes), the TF
MNIST tutorial network, ResNet-20, MobileNet's last 1×1 on CIFAR and three shapes
near the rule's edges, times the training work of one layer
(forward, plus the kernel gradient and, past the first layer, the input gradient)
three ways — each of `jcnn.kernels`' implementations, forced with `kernels.use` — and
prints one JSON line per layer with the one `jcnn.nn.conv2d` takes by default ("auto"),
then a Markdown table. The chosen path should be the fastest, or close to it, on every row.
XLA's side runs with XLA:CPU's default flags; JCNN_XLA_CPU_FLAGS=1 adds jcnn's
(jcnn/runtime.py), as `python -m train` does where a config sets `xla_cpu_flags`.
"""
import argparse
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks import store  # noqa: E402
from jcnn import runtime  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from jcnn import kernels, nn  # noqa: E402
from jcnn.padding import explicit_padding, to_pair  # noqa: E402

PATHS = ("xla", "banded", "onednn")

# name: (input [h, w, c] without batch, kernel [kh, kw, in, out], stride, padding,
#        whether the layer needs its input gradient (not a first layer))
LAYERS = {
    "lenet5 c1": ((32, 32, 1), (5, 5, 1, 6), 1, "VALID", False),
    "lenet5 c3": ((14, 14, 6), (5, 5, 6, 16), 1, "VALID", True),
    "lenet5 c5": ((5, 5, 16), (5, 5, 16, 120), 1, "VALID", True),
    "5x5 1->16": ((32, 32, 1), (5, 5, 1, 16), 1, "VALID", False),
    "5x5 3->16 /2": ((32, 32, 3), (5, 5, 3, 16), 2, "VALID", False),
    "5x5 16->16": ((14, 14, 16), (5, 5, 16, 16), 1, "VALID", True),
    "lenet_tf conv0": ((28, 28, 1), (5, 5, 1, 32), 1, "SAME", False),
    "lenet_tf conv1": ((14, 14, 32), (5, 5, 32, 64), 1, "SAME", True),
    "resnet20 stem": ((32, 32, 3), (3, 3, 3, 16), 1, 1, False),
    "resnet20 16ch": ((32, 32, 16), (3, 3, 16, 16), 1, 1, True),
    "resnet20 16->32 /2": ((32, 32, 16), (3, 3, 16, 32), 2, 1, True),
    "resnet20 32ch": ((16, 16, 32), (3, 3, 32, 32), 1, 1, True),
    "resnet20 64ch": ((8, 8, 64), (3, 3, 64, 64), 1, 1, True),
    "mobilenet 1x1 at 1x1": ((1, 1, 512), (1, 1, 512, 1024), 1, "VALID", True),
}


def _median_ms(fn, *args, seconds: float) -> float:
  jax.block_until_ready(fn(*args))
  jax.block_until_ready(fn(*args))
  times, deadline = [], time.perf_counter() + seconds
  while time.perf_counter() < deadline or len(times) < 10:
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - start)
  return 1000 * statistics.median(times)


def measure(name: str, batch: int, seconds: float) -> dict:
  in_shape, kernel_shape, stride, padding, input_grad = LAYERS[name]
  keys = jax.random.split(jax.random.PRNGKey(0), 3)
  x = jax.random.normal(keys[0], (batch, *in_shape))
  kernel = jax.random.normal(keys[1], kernel_shape)
  conv = lambda x, kernel: nn.conv2d(x, kernel, stride=stride, padding=padding)
  weights = jax.random.normal(keys[2], jax.eval_shape(conv, x, kernel).shape)
  row = {"layer": name, "batch": batch}
  for path in PATHS:
    if path == "onednn" and not kernels.onednn.available():
      continue
    def loss(x, kernel):
      return jnp.sum(conv(x, kernel) * weights)
    step = jax.jit(jax.grad(loss, argnums=(0, 1) if input_grad else 1))
    with kernels.use(path):  # where `step` is traced
      row[f"{path}_ms"] = round(min(_median_ms(step, x, kernel, seconds=seconds)
                                    for _ in range(2)), 3)
  strides = to_pair(stride, "stride")
  pads = explicit_padding(padding, in_shape[:2], kernel_shape, strides, (1, 1))
  row["chosen"] = kernels.conv_implementation(x, kernel, strides, pads, (1, 1), 1)
  row["fastest"] = min((p for p in PATHS if f"{p}_ms" in row), key=lambda p: row[f"{p}_ms"])
  return row


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--batch", type=int, default=128)
  p.add_argument("--seconds", type=float, default=1.0, help="per measurement")
  p.add_argument("--layers", nargs="*", default=list(LAYERS), choices=list(LAYERS),
                 metavar="LAYER", help="a subset of: " + ", ".join(LAYERS))
  store.add_save_flag(p, "conv_lowering.jsonl")
  args = p.parse_args(argv)
  store.save_to(args.save)
  runtime.configure(compile_cache=None)  # before anything compiles
  rows = []
  for name in args.layers:
    rows.append(store.emit(measure(name, args.batch, args.seconds)))
  print("\n| layer | XLA conv (ms) | banded GEMM (ms) | oneDNN (ms) | chosen | fastest |\n"
        "| --- | ---: | ---: | ---: | --- | --- |")
  for r in rows:
    print(f"| {r['layer']} | {r['xla_ms']} | {r['banded_ms']} | {r.get('onednn_ms', '–')} | "
          f"{r['chosen']} | {r['fastest']} |")


if __name__ == "__main__":
  main()
