"""Where a compiled train step's time goes on the CPU, by kind of work.

    python benchmarks/profile_step.py --model resnet20 --batch 128
    JCNN_KERNELS=xla JCNN_XLA_CPU_FLAGS=0 python benchmarks/profile_step.py ...  # XLA alone

Profiles a few steps with the JAX profiler (XLA:CPU traces each thunk), reads which HLO
instruction each thunk ran, and sorts the instructions into: convolution forward /
input-gradient / weight-gradient, convolutions run as banded GEMMs
(jcnn.kernels.banded, forward and backward), layout transposes, pooling (reduce-window
and XLA's select-and-scatter gradient; jcnn's tiled max-pool gradient is element-wise
work and counts there), concatenation (Inception's branches), batch norm, dense layers,
optimizer, and element-wise/other. Prints one JSON line per category (thread-ms per
step summed over the CPU threads, share of the total) and a Markdown table.
"""
import argparse
import collections
import pathlib
import re
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from jcnn import runtime  # noqa: E402

runtime.add_xla_flags(("--xla_cpu_enable_xprof_traceme=true",))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402
from jax._src.lib import _profile_data  # noqa: E402

from benchmarks import store  # noqa: E402
from benchmarks.train_step import cifar_resnet  # noqa: E402
from jcnn import models, parallel, precision, tasks, training  # noqa: E402
from jcnn import state as state_lib  # noqa: E402
from jcnn.tasks import classification  # noqa: E402

CATEGORIES = ("conv forward", "conv input-gradient", "conv weight-gradient",
              "conv as banded GEMMs", "layout transposes", "pooling", "concatenation",
              "batch norm", "dense layers", "optimizer", "element-wise/other")
_OP_NAME = re.compile(r'op_name="([^"]*)"')
_CALLS = re.compile(r"calls=%?([\w.\-]+)")
_SHAPE = re.compile(r"^\s*(?:ROOT )?%?[\w.\-]+ = \w+\[([\d,]*)\]")


def _computations(hlo: str) -> dict[str, list[str]]:
  """{computation name: its instruction lines} of an HLO module's text."""
  comps, name = {}, None
  for line in hlo.splitlines():
    head = re.match(r"^(?:ENTRY )?%?([\w.\-]+) .*\{$", line)
    if head:
      name = "ENTRY" if line.startswith("ENTRY") else head.group(1)
      comps[name] = []
    elif name and line.strip() and line.strip() != "}":
      comps[name].append(line)
  return comps


def _body(line: str, comps: dict) -> list[str]:
  """The line and, recursively, every line of the computations it calls."""
  lines = [line]
  for called in _CALLS.findall(line):
    for inner in comps.get(called, []):
      lines.extend(_body(inner, comps))
  return lines


def _root_opcode(line: str, comps: dict) -> str:
  """The opcode an instruction computes: its own, or its fused computation's root's."""
  called = _CALLS.findall(line)
  if " fusion(" in line and called:
    root = next((l for l in comps.get(called[0], []) if l.lstrip().startswith("ROOT")), "")
    line = root or line
  opcode = re.search(r"\} (\w[\w-]*)\(|= \w+\[[\d,]*\] (\w[\w-]*)\(", line)
  return next((g for g in opcode.groups() if g), "") if opcode else ""


def classify(line: str, comps: dict, entry: dict, kernel_shapes: set,
             conv_modules: tuple[str, ...] = ()) -> str:
  """The category of one top-level HLO instruction (`entry`: name -> line;
  `conv_modules`: the module paths, "a/b", of the model's convolutions)."""
  body = _body(line, comps)
  text = "\n".join(body)
  names = " ".join(_OP_NAME.findall(text))
  shape = _SHAPE.match(line)
  dims = tuple(sorted(int(d) for d in shape.group(1).split(",") if d)) if shape else ()
  onednn = re.search(r'custom_call_target="JcnnConv(\w+)"', line)
  if onednn:  # jcnn.kernels.onednn
    return {"Forward": "conv forward", "InputGrad": "conv input-gradient",
            "KernelGrad": "conv weight-gradient"}[onednn.group(1)]
  if " convolution(" in text:
    if dims in kernel_shapes:
      return "conv weight-gradient"
    # The input gradient convolves with the kernel reversed in space (or, strided,
    # dilates its input): look for the reverse in the operands' computations.
    operands = re.findall(r"%([\w.\-]+)", line.split("(", 1)[1])
    reversed_kernel = any(" reverse(" in "\n".join(_body(entry[o], comps))
                          for o in operands if o in entry)
    if reversed_kernel or "lhs_dilate" in text or " reverse(" in text:
      return "conv input-gradient"
    return "conv forward"
  if " dot(" in text:
    if any(f"/{path}/" in names for path in conv_modules):
      return "conv as banded GEMMs"
    return "dense layers"
  if re.search(r"= \w+\[[\d,]*\]\{[\d,]*\} transpose\(", text) or line.split("=")[0].strip(
      ).lstrip("%").startswith("transpose"):
    return "layout transposes"
  if " reduce-window(" in text or " select-and-scatter(" in text:
    return "pooling"
  if _root_opcode(line, comps) == "concatenate":
    return "concatenation"
  if re.search(r"/(bn\w*|BatchNorm\w*|\w*norm\w*)/", names, re.IGNORECASE):
    return "batch norm"
  if names and "jvp(" not in names:
    return "optimizer"
  return "element-wise/other"


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", default="resnet20")
  p.add_argument("--batch", type=int, default=128)
  p.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
  p.add_argument("--steps", type=int, default=5, help="profiled steps")
  p.add_argument("--top", type=int, default=0,
                 help="also list the N costliest HLO instructions (to stderr)")
  store.add_save_flag(p, "profile_step.jsonl")
  args = p.parse_args(argv)
  store.save_to(args.save)
  # Before anything compiles; the XLA:CPU flags as benchmarks/train_step.py sets them.
  runtime.configure(cpu_flags=cifar_resnet(args.model), compile_cache=None)

  h, w, c = models.info(args.model).input_shape
  model = models.create(args.model, num_classes=10)
  mesh, key = parallel.make_mesh(1), jax.random.PRNGKey(0)
  batch = parallel.put_batch({"image": jax.random.normal(key, (args.batch, h, w, c)),
                              "label": jnp.arange(args.batch) % 10,
                              "mask": jnp.ones(args.batch)}, mesh)
  state = jax.device_put(
      state_lib.create(model, optax.sgd(0.01, momentum=0.9), rng=key, input_shape=(h, w, c),
                       apply_fn=precision.apply_in(args.dtype, model.apply)),
      parallel.replicated(mesh))
  config = tasks.default_config("classification")
  config.update(dict(model=args.model, weight_decay=5e-4, weight_decay_subset="kernels"))
  compiled = training.jit_train_step(training.guarded_step(
      classification.train_step(config), optax.constant_schedule(0.01)), mesh).lower(
          state, batch, training.new_guard(mesh)).compile()
  kernels = [(path, k) for path, k in jax.tree_util.tree_leaves_with_path(state.params)
             if k.ndim == 4]
  kernel_shapes = {tuple(sorted(k.shape)) for _, k in kernels}
  conv_modules = tuple("/".join(str(p.key) for p in path[:-1]) for path, _ in kernels)
  comps = _computations(compiled.as_text())
  entry = {}
  for line in comps["ENTRY"]:
    m = re.match(r"^\s*(?:ROOT )?%?([\w.\-]+) = ", line)
    if m:
      entry[m.group(1)] = line
  category = {name: classify(line, comps, entry, kernel_shapes, conv_modules)
              for name, line in entry.items()}

  guard = training.new_guard(mesh)
  for _ in range(3):
    state, metrics, guard = compiled(state, batch, guard)
  jax.block_until_ready(metrics)
  with tempfile.TemporaryDirectory() as trace_dir:
    jax.profiler.start_trace(trace_dir)
    start = time.perf_counter()
    for _ in range(args.steps):
      state, metrics, guard = compiled(state, batch, guard)
      jax.block_until_ready(metrics)
    wall = (time.perf_counter() - start) / args.steps
    jax.profiler.stop_trace()
    profile = _profile_data.ProfileData.from_file(
        str(next(pathlib.Path(trace_dir).rglob("*.xplane.pb"))))

  instruction_ns = collections.Counter()
  for plane in profile.planes:
    for line in plane.lines:
      for event in line.events:
        if event.name in category:
          instruction_ns[event.name] += event.duration_ns
  thread_ns = collections.Counter()
  for name, ns in instruction_ns.items():
    thread_ns[category[name]] += ns
  total = sum(thread_ns.values())
  for name, ns in instruction_ns.most_common(args.top):
    ops = sorted({op.rsplit("/", 2)[-2] + "/" + op.rsplit("/", 1)[-1] if "/" in op else op
                  for op in _OP_NAME.findall("\n".join(_body(entry[name], comps)))})
    print(f"{ns / args.steps / 1e6:7.2f} ms  {category[name]:22s} {name}: "
          f"{' '.join(ops)[:150]}", file=sys.stderr)
  print(f"# {args.model} batch {args.batch} {args.dtype}: {1000 * wall:.1f} ms/step wall, "
        f"{total / args.steps / 1e6:.1f} thread-ms/step in XLA thunks", file=sys.stderr)
  rows = []
  for name in CATEGORIES:
    ms = thread_ns[name] / args.steps / 1e6
    rows.append({"model": args.model, "batch": args.batch, "dtype": args.dtype,
                 "category": name, "thread_ms": round(ms, 1),
                 "share": round(thread_ns[name] / total, 3) if total else 0.0,
                 "step_ms": round(1000 * wall, 1)})
    store.emit(rows[-1])
  print("\n| category | thread-ms / step | share |\n| --- | ---: | ---: |")
  for r in rows:
    print(f"| {r['category']} | {r['thread_ms']} | {100 * r['share']:.0f} % |")


if __name__ == "__main__":
  main()
