"""ResNet-20's train step on one CPU machine, three ways to use its cores: the table.

    python benchmarks/cpu_layouts.py [--model resnet20] [--batch 128] [--seconds 20]

Runs `train_step.py` (the step of `python -m train`, data parallel over every device of
every process, oneDNN's convolutions on each device) one layout after the other:

  1 process x 1 device   OpenMP's threads on all cores (OMP_NUM_THREADS unset)
  1 process x N devices  one oneDNN team per device (jcnn.runtime: cores / N threads each)
  N processes x 1 device jax.distributed on localhost, gloo, OMP_NUM_THREADS=1

with N the machine's cores. Prints each run's JSON line, then a markdown table of
images/s (global batch --batch in every layout).
"""
import argparse
import json
import os
import pathlib
import socket
import subprocess
import sys

_STEP = pathlib.Path(__file__).with_name("train_step.py")
sys.path.insert(0, str(_STEP.parents[1]))

from benchmarks import store  # noqa: E402


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _run(args, extra, processes=1, threads=None) -> dict:
  env = dict(os.environ)
  env.pop("OMP_NUM_THREADS", None)
  if threads:
    env["OMP_NUM_THREADS"] = str(threads)
  command = [sys.executable, str(_STEP), "--model", args.model, "--batch", str(args.batch),
             "--seconds", str(args.seconds), *extra]
  if processes > 1:
    group = ["--coordinator", f"127.0.0.1:{_free_port()}", "--num-processes", str(processes)]
    runs = [subprocess.Popen(command + group + ["--process-id", str(i)], env=env, text=True,
                             stdout=subprocess.PIPE) for i in range(processes)]
    outputs = [r.communicate(timeout=900)[0] for r in runs]
    if any(r.returncode for r in runs):
      raise SystemExit(f"a process of {command + group} failed")
    out = outputs[0]
  else:
    out = subprocess.run(command, env=env, text=True, stdout=subprocess.PIPE, check=True,
                         timeout=900).stdout
  return store.emit(json.loads(out.strip().splitlines()[-1]))


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", default="resnet20")
  p.add_argument("--batch", type=int, default=128)
  p.add_argument("--seconds", type=float, default=20.0)
  store.add_save_flag(p, "cpu_layouts.jsonl")
  args = p.parse_args(argv)
  store.save_to(args.save)
  n = os.cpu_count() or 1
  layouts = [
      (f"1 process × 1 device, {n} threads", _run(args, [])),
      (f"1 process × {n} devices, 1 thread each", _run(args, ["--devices", str(n)])),
      (f"{n} processes × 1 device, 1 thread each (gloo)", _run(args, [], n, 1)),
  ]
  print(f"\n| layout ({args.model}, train, global batch {args.batch}, fp32) | img/s | step ms |")
  print("| --- | ---: | ---: |")
  for name, line in layouts:
    print(f"| {name} | {line['img_per_s']:,.0f} | {line['step_ms']:.0f} |")


if __name__ == "__main__":
  main()
