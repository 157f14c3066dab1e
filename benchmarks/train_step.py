"""Throughput of one compiled train or eval step of a registered model, on synthetic data.

    python benchmarks/train_step.py --model resnet20 --batch 128 --mode train
    python benchmarks/train_step.py --model lenet5 --batch 128 --mode eval --seconds 10
    python benchmarks/train_step.py --model resnet20 --devices 2      # 2 CPU devices
    # one of 2 processes, 1 device each (jax.distributed; run the other with id 1):
    python benchmarks/train_step.py --model resnet20 --coordinator 127.0.0.1:1234 \
        --num-processes 2 --process-id 0

Prints one JSON line: model, mode, batch, dtype, img_per_s (batch / median step time),
step_ms (median), compile_s, steps, peak_rss_mb, device. The train step is the real one
of `python -m train` (cross-entropy + L2 5e-4 + SGD momentum 0.9, as the PyTorch
baseline in ../shared/baselines/torch_cnn_speed.py), with the state donated, and the
same process settings (jcnn.runtime: XLA:CPU flags for the CIFAR ResNets, where they
were measured faster, as their train configs' `xla_cpu_flags`; JCNN_XLA_CPU_FLAGS=1 / 0
forces them). --dtype bfloat16 computes in bfloat16 with float32 parameters (jcnn.precision).
The step runs data parallel over every device of every process, as `python -m train`
does; --batch is the global batch, and each process feeds its rows of it. Only process 0
prints.
"""
import argparse
import os
import pathlib
import resource
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from jcnn import runtime  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.experimental import multihost_utils  # noqa: E402

from benchmarks import store  # noqa: E402
from jcnn import evaluators, models, parallel, precision, tasks  # noqa: E402
from jcnn import state as state_lib  # noqa: E402
from jcnn.evaluators import classification as classification_eval  # noqa: E402
from jcnn.tasks import classification  # noqa: E402
from jcnn import training  # noqa: E402


def cifar_resnet(model: str) -> bool:
  """Whether `model` is one of the CIFAR ResNets, which the XLA:CPU flags speed up."""
  return (model.startswith(("resnet", "plain"))
          and models.info(model).input_shape == (32, 32, 3))


def _parse(argv):
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", required=True, help="registry name, e.g. resnet20, lenet5")
  p.add_argument("--batch", type=int, default=128)
  p.add_argument("--mode", choices=("train", "eval"), default="train")
  p.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32",
                 help="compute dtype (parameters stay float32)")
  p.add_argument("--seconds", type=float, default=20.0, help="time spent measuring")
  p.add_argument("--input-size", type=int, default=None,
                 help="square input size (default: the model's)")
  p.add_argument("--devices", type=int, default=1,
                 help="CPU devices of this process (XLA's host device count)")
  p.add_argument("--coordinator", default=None, help="HOST:PORT of process 0's coordinator")
  p.add_argument("--num-processes", type=int, default=None)
  p.add_argument("--process-id", type=int, default=None)
  p.add_argument("--flops", action="store_true",
                 help="also report model TFLOP/s: 2 x forward MACs per image (x3 when "
                      "training: backward is twice the forward), from jcnn.analysis")
  store.add_save_flag(p, "train_step.jsonl")
  return p.parse_args(argv)


def main(argv=None):
  args = _parse(argv)
  store.save_to(args.save)
  # Before anything compiles, as in `python -m train`; no cache, so compile_s is honest.
  info = models.info(args.model)
  if args.devices > 1:
    runtime.add_xla_flags([f"--xla_force_host_platform_device_count={args.devices}"])
  runtime.configure(cpu_flags=cifar_resnet(args.model), compile_cache=None)
  parallel.initialize(args.coordinator, args.num_processes, args.process_id)
  h, w, c = info.input_shape
  if args.input_size:
    h = w = args.input_size
  model = models.create(args.model, num_classes=10)
  mesh = parallel.make_mesh()
  apply = precision.apply_in(args.dtype, model.apply)
  key = jax.random.PRNGKey(0)
  rows = parallel.local_rows(mesh, args.batch)
  batch = parallel.put_batch({
      "image": jax.random.normal(key, (args.batch, h, w, c))[rows],
      "label": (jnp.arange(args.batch) % 10)[rows],
      "mask": jnp.ones(args.batch)[rows]}, mesh)
  tx = optax.sgd(0.01, momentum=0.9)
  state = jax.device_put(
      state_lib.create(model, tx, rng=key, input_shape=(h, w, c), apply_fn=apply),
      parallel.replicated(mesh))

  if args.mode == "train":
    # The step `python -m train` runs: the task's, inside the loop's non-finite guard.
    config = tasks.default_config("classification")
    config.update(dict(model=args.model, weight_decay=5e-4, weight_decay_subset="kernels"))
    step_fn = training.jit_train_step(training.guarded_step(
        classification.train_step(config), optax.constant_schedule(0.01)), mesh)
    guard = training.new_guard(mesh)
    start = time.perf_counter()
    compiled = step_fn.lower(state, batch, guard).compile()
    compile_s = time.perf_counter() - start

    def run_once(state):
      state, metrics, _ = compiled(state, batch, guard)
      jax.block_until_ready(metrics["loss"])
      return state
  else:
    step_fn = evaluators.jit_sums(classification_eval.sums_step(apply, 10), mesh)
    variables = state.eval_variables()
    start = time.perf_counter()
    compiled = step_fn.lower(variables, batch).compile()
    compile_s = time.perf_counter() - start

    def run_once(state):
      jax.block_until_ready(compiled(variables, batch))
      return state

  warm = []
  for _ in range(4):  # warm up: allocator, thread pools
    t0 = time.perf_counter()
    state = run_once(state)
    warm.append(time.perf_counter() - t0)
  times = []
  # Every process must run the same number of steps (each one is a collective): as
  # many as process 0's fastest warm-up step says fit in --seconds.
  steps = max(5, int(args.seconds / min(warm)))
  steps = int(multihost_utils.broadcast_one_to_all(np.int32(steps)))
  for _ in range(steps):
    t0 = time.perf_counter()
    state = run_once(state)
    times.append(time.perf_counter() - t0)
  median = statistics.median(times)
  extra = {}
  if args.flops:
    flops = 2 * _forward_macs(model, (h, w, c)) * (3 if args.mode == "train" else 1)
    extra["model_tflop_per_s"] = round(flops * args.batch / median / 1e12, 3)
  if not parallel.is_primary():
    return
  store.emit({
      "framework": "jcnn", "model": args.model, "mode": args.mode, "batch": args.batch,
      "processes": jax.process_count(), "devices": jax.device_count(),
      "omp_threads": os.environ.get("OMP_NUM_THREADS"),
      "dtype": args.dtype, "img_per_s": round(args.batch / median, 1),
      "step_ms": round(1000 * median, 3), "compile_s": round(compile_s, 2),
      "steps": len(times),
      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
      "device": jax.devices()[0].device_kind, **extra})


def _forward_macs(model, input_shape) -> int:
  """Multiply-accumulates of one image's forward pass, counted on the jaxpr."""
  from jcnn import analysis
  x = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
  variables = models.abstract_variables(model, input_shape)
  return analysis.cost(lambda v, x: model.apply(v, x, train=False), x, variables=variables,
                       compare_xla=False, backprop=False).macs


if __name__ == "__main__":
  main()
