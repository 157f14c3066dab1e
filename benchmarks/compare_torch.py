"""jcnn against PyTorch on this CPU, same models, batches and session: one table.

    python benchmarks/compare_torch.py --torch-python /path/to/torch-venv/bin/python

PyTorch is never a jcnn dependency: install `torch==2.13.0` in a separate venv and
point --torch-python at its interpreter. Runs, alternating the two frameworks so that
both see the same machine state, `--repeats` rounds of: LeNet-5 train/eval at batch 128,
ResNet-20 train at batch 128 and eval at batch 512 (jcnn float32 and bfloat16; PyTorch
float32 channels_last, ../shared/baselines/torch_cnn_speed.py). Every measurement is one
JSON line on stdout (`--save` also stores them); the medians, ranges and per-round ratios
end as a Markdown table, the one benchmarks/render.py draws in the READMEs.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import render, store  # noqa: E402

TORCH_SCRIPT = REPO.parent / "shared" / "baselines" / "torch_cnn_speed.py"
CASES = (("lenet5", "train", 128), ("lenet5", "eval", 128),
         ("resnet20", "train", 128), ("resnet20", "eval", 512))


def _run(cmd: list[str], env: dict | None = None) -> dict:
  proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                        env={**os.environ, **(env or {})})
  if proc.returncode:
    sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
  return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--torch-python", default=os.environ.get("TORCH_PYTHON"), required=
                 "TORCH_PYTHON" not in os.environ, help="python of a venv with torch==2.13.0")
  p.add_argument("--torch-script", default=str(TORCH_SCRIPT))
  p.add_argument("--repeats", type=int, default=3)
  p.add_argument("--seconds", type=float, default=10.0, help="measuring time per run")
  p.add_argument("--models", default="lenet5,resnet20")
  p.add_argument("--no-bf16", action="store_true", help="skip the jcnn bfloat16 runs")
  store.add_save_flag(p, "compare_torch_cpu.jsonl")
  args = p.parse_args(argv)
  store.save_to(args.save)

  cases = [c for c in CASES if c[0] in args.models.split(",")]
  lines = []
  for repeat in range(args.repeats):
    for model, mode, batch in cases:
      common = ["--model", model, "--mode", mode, "--batch", str(batch),
                "--seconds", str(args.seconds)]
      runs = [("torch", "float32", [args.torch_python, args.torch_script, *common]),
              ("jcnn", "float32", [sys.executable, "benchmarks/train_step.py", *common])]
      if not args.no_bf16:
        runs.append(("jcnn", "bfloat16", [sys.executable, "benchmarks/train_step.py", *common,
                                          "--dtype", "bfloat16"]))
      if repeat % 2:
        runs.reverse()
      for framework, dtype, cmd in runs:
        lines.append(store.emit(_run(cmd), framework=framework, dtype=dtype, repeat=repeat))

  print(f"\nMedians and ranges of {args.repeats} rounds of {args.seconds:.0f} s each "
        "(images/s; ratio = jcnn / PyTorch within a round).\n")
  print(render.compare_table(lines))


if __name__ == "__main__":
  main()
