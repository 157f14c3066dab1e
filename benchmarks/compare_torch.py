"""jcnn against PyTorch on this CPU, same models, batches and session: one table.

    python benchmarks/compare_torch.py --torch-python /path/to/torch-venv/bin/python

PyTorch is never a jcnn dependency: install `torch==2.13.0` in a separate venv and
point --torch-python at its interpreter. Runs, alternating the two frameworks so that
both see the same machine state, `--repeats` rounds of: LeNet-5 train/eval at batch 128,
ResNet-20 train at batch 128 and eval at batch 512 (jcnn float32 and bfloat16; PyTorch
float32 channels_last, ../shared/baselines/torch_cnn_speed.py). Every measurement is one
JSON line on stdout; the medians and ratios end as a Markdown table.
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
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
  args = p.parse_args(argv)

  cases = [c for c in CASES if c[0] in args.models.split(",")]
  results: dict[tuple, list[float]] = {}
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
        record = {**_run(cmd), "framework": framework, "dtype": dtype, "repeat": repeat}
        print(json.dumps(record), flush=True)
        results.setdefault((model, mode, batch, framework, dtype), []).append(
            record["img_per_s"])

  med = {k: statistics.median(v) for k, v in results.items()}
  print(f"\nMedians of {args.repeats} runs of {args.seconds:.0f} s each (images/s; ratio = "
        "jcnn / PyTorch).\n")
  print("| model | mode | batch | PyTorch fp32 | jcnn fp32 | ratio | jcnn bf16 | ratio |")
  print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
  for model, mode, batch in cases:
    torch_ = med[(model, mode, batch, "torch", "float32")]
    fp32 = med[(model, mode, batch, "jcnn", "float32")]
    bf16 = med.get((model, mode, batch, "jcnn", "bfloat16"))
    bf16_cells = f"{bf16:,.0f} | {bf16 / torch_:.2f}" if bf16 else "– | –"
    print(f"| {model} | {mode} | {batch} | {torch_:,.0f} | {fp32:,.0f} | {fp32 / torch_:.2f} "
          f"| {bf16_cells} |")


if __name__ == "__main__":
  main()
