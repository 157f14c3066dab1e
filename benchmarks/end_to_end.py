"""The whole `python -m train` loop against the bare train step, and the compile cache.

    JCNN_DATA_DIR=../shared/data python benchmarks/end_to_end.py
    python benchmarks/end_to_end.py --config train/configs/lenet5_mnist.py --steps 300

Starts the same training run twice, each time in a fresh workdir but with one shared,
initially empty compilation cache, for `--steps` steps with augmentation, logging every
10 steps. Reads the run's metrics log (jcnn.runs): images/s end to end (median of the logged windows, after
the first step), the XLA compile time of the train step (a load from the cache on the
second start) and the first step's wall time (tracing, compiling, one step). Then measures the bare compiled step (benchmarks/train_step.py) of the same model
and batch. Prints JSON lines and the two ratios the speed issue asks for:
end-to-end / bare (>= 0.9: the pipeline is not the bottleneck) and warm / cold start.
"""
import argparse
import importlib.util
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # configs import train.configs.*

from benchmarks import store  # noqa: E402


def _train(config: str, steps: int, workdir: pathlib.Path, cache: pathlib.Path) -> dict:
  env = {**os.environ, "JCNN_COMPILE_CACHE_DIR": str(cache)}
  cmd = [sys.executable, "-m", "train", f"--config={config}", f"--workdir={workdir}",
         f"--config.num_train_steps={steps}", "--config.log_every_steps=10",
         f"--config.checkpoint_every_steps={steps}"]
  proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
  if proc.returncode:
    sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
  from jcnn import runs
  run = runs.Run.open(workdir)
  rates = [r["img_per_s"] for r in run.records("train")]
  first = run.records("compile")[0]
  return {"img_per_s": round(statistics.median(rates), 1),
          "first_step_s": round(first["first_step_s"], 2), "compile_s": round(first["compile_s"], 3)}


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--config", default="train/configs/resnet20_cifar10.py")
  p.add_argument("--steps", type=int, default=150)
  p.add_argument("--seconds", type=float, default=20.0, help="bare step measuring time")
  store.add_save_flag(p, "end_to_end.jsonl")
  args = p.parse_args(argv)
  store.save_to(args.save)
  spec = importlib.util.spec_from_file_location("config", REPO / args.config)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config()

  with tempfile.TemporaryDirectory() as tmp:
    tmp = pathlib.Path(tmp)
    cold = _train(args.config, args.steps, tmp / "run1", tmp / "cache")
    warm = _train(args.config, args.steps, tmp / "run2", tmp / "cache")
  for name, r in (("cold", cold), ("warm", warm)):
    store.emit({"benchmark": "end_to_end", "start": name, "config": args.config,
                "steps": args.steps, "batch": config.batch_size, **r})
  bare = subprocess.run(
      [sys.executable, "benchmarks/train_step.py", "--model", config.model, "--batch",
       str(config.batch_size), "--seconds", str(args.seconds)],
      cwd=REPO, capture_output=True, text=True, check=True)
  bare = json.loads(bare.stdout.strip().splitlines()[-1])
  store.emit(bare)
  store.emit({
      "benchmark": "end_to_end_summary", "model": config.model, "batch": config.batch_size,
      "end_to_end_img_per_s": warm["img_per_s"], "bare_step_img_per_s": bare["img_per_s"],
      "end_to_end_over_bare": round(warm["img_per_s"] / bare["img_per_s"], 3),
      "cold_compile_s": cold["compile_s"], "warm_compile_s": warm["compile_s"],
      "warm_over_cold_compile": round(warm["compile_s"] / cold["compile_s"], 3),
      "cold_first_step_s": cold["first_step_s"], "warm_first_step_s": warm["first_step_s"]})


if __name__ == "__main__":
  main()
