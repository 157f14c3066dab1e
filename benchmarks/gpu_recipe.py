"""A training recipe end to end through `python -m train`, and whether the input keeps up.

    JCNN_DATA_DIR=../shared/data python benchmarks/gpu_recipe.py     # resnet20_cifar10
    python benchmarks/gpu_recipe.py --config resnet20_cifar10 --seconds 5 \
        --config.checkpoint_every_steps=16000       # any --config.KEY=VALUE goes to train

Three measurements, one JSON line each (`part`):
  bare_step       the config's train step at its batch and dtype on one batch that stays
                  on the device (benchmarks/train_step.py): the speed without host input;
  input_pipeline  the CIFAR-10 stream alone, decoded, cropped, flipped, prefetched and
                  copied to the device (benchmarks/input_pipeline.py): what the host feeds;
  end_to_end      `python -m train --config NAME` in a fresh workdir, to its last step:
                  img/s (median of the logged windows), steps, wall time, the last
                  evaluation's top-1, and against the other two: end_to_end_over_bare and
                  `limited_by` — "nothing" (>= 0.9 of the bare step), "input pipeline"
                  (the stream alone is slower than the bare step) or "host loop" (the
                  stream is fast enough, the loop's per-step host work is not).
SIGTERM (benchmarks/gpu_row.py at its timeout) stops training; python -m train saves a
checkpoint, and the end_to_end line still comes, with "finished": false and the steps done.
"""
import argparse
import ast
import importlib
import importlib.util
import json
import pathlib
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import store  # noqa: E402

KEEPS_UP = 0.9  # end to end at this fraction of the bare step or more: nothing holds it back
_PART_S = 180  # the bare step and the input pipeline each, start-up and compilation included
_stopping = []


def _config(name: str, overrides: list[str]):
  """The shipped config `name` with `--config.KEY=VALUE` overrides applied."""
  config = importlib.import_module(f"train.configs.{name}").get_config()
  for arg in overrides:
    key, _, text = arg.removeprefix("--config.").partition("=")
    try:
      value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
      value = text
    node, *path = config, *key.split(".")
    for part in path[:-1]:
      node = node[part]
    node[path[-1]] = value
  return config


def _measure(part: str, command: list[str]) -> dict:
  """The last JSON line of a benchmark run as a child (its error output passed through)."""
  try:
    proc = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, text=True,
                          timeout=_PART_S)
  except subprocess.TimeoutExpired:
    sys.exit(f"gpu_recipe.py: {part} took over {_PART_S} s: {shlex.join(command[1:])}")
  lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
  if proc.returncode or not lines:
    sys.exit(f"gpu_recipe.py: {part} failed (exit status {proc.returncode}): "
             f"{shlex.join(command[1:])}")
  return json.loads(lines[-1])


def _train(name: str, overrides: list[str], workdir: pathlib.Path) -> tuple[int, float]:
  """Runs python -m train to its end or to SIGTERM; returns (exit status, wall seconds)."""
  command = [sys.executable, "-m", "train", f"--config={name}", f"--workdir={workdir}",
             *overrides]
  start = time.perf_counter()
  # Its progress and its closing JSON line go to stderr: this script's stdout is its own lines.
  proc = subprocess.Popen(command, cwd=REPO, stdout=sys.stderr)
  status = proc.wait()  # a SIGTERM reaches it too (one process group): it checkpoints
  return status, time.perf_counter() - start


def _run_fields(workdir: pathlib.Path) -> dict:
  """What the run's metrics log says: steps, img/s, compile time, last evaluation."""
  from jcnn import runs
  if not workdir.exists():  # python -m train stopped before it made the run
    return {"steps_done": 0, "total_steps": None, "finished": False, "img_per_s": None,
            "compile_s": None, "evaluations": 0, "top1": None}
  run = runs.Run.open(workdir)
  records = run.records()
  # A window that held only the first step (compiled, then restarted) counts no image.
  rates = [r["img_per_s"] for r in records if r.get("split") == "train" and r["img_per_s"]]
  compiles = [r for r in records if r.get("split") == "compile"]
  evaluations = [r for r in records if r.get("split") != "train" and "top1" in r]
  return {
      "steps_done": max((r["step"] for r in records), default=0),
      "total_steps": next((r["total_steps"] for r in records if "total_steps" in r), None),
      "finished": run.finished,
      "img_per_s": round(statistics.median(rates), 1) if rates else None,
      "compile_s": round(compiles[0]["compile_s"], 2) if compiles else None,
      "evaluations": len(evaluations),
      "top1": evaluations[-1]["top1"] if evaluations else None,
  }


def _verdict(end_to_end: float, bare: float, pipeline: float) -> str:
  if end_to_end >= KEEPS_UP * bare:
    return "nothing"
  return "input pipeline" if pipeline < bare else "host loop"


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--config", default="resnet20_cifar10", help="a shipped config's name")
  p.add_argument("--seconds", type=float, default=5.0,
                 help="measuring time of the bare step and of the input pipeline")
  args, overrides = p.parse_known_args(argv)
  unknown = [a for a in overrides if not a.startswith("--config.")]
  if unknown:
    p.error(f"unrecognised arguments: {' '.join(unknown)}")
  signal.signal(signal.SIGTERM, lambda *_: _stopping.append(True))
  config = _config(args.config, overrides)
  if config.dataset == "image_folder" and not pathlib.Path(config.data_dir).exists():
    sys.exit(f"gpu_recipe.py: no {config.data_dir} (set JCNN_DATA_DIR; "
             f"train/configs/{args.config}.py says where)")
  common = {"config": args.config, "model": config.model, "batch": config.batch_size,
            "dtype": config.dtype, "overrides": overrides}

  bare = _measure("bare_step", [
      sys.executable, "benchmarks/train_step.py", "--model", config.model, "--batch",
      str(config.batch_size), "--dtype", config.dtype, "--mode", "train", "--seconds",
      str(args.seconds), "--flops"])
  store.emit({"part": "bare_step", **common, **bare})
  pipeline = _measure("input_pipeline", [
      sys.executable, "benchmarks/input_pipeline.py", "--datasets", "cifar10",
      "--seconds", str(args.seconds)])
  store.emit({"part": "input_pipeline", **common, **pipeline})
  if importlib.util.find_spec("tensorflow") is None:
    # flax.metrics.tensorboard imports it when the run logs (jcnn/runs.py).
    sys.exit("gpu_recipe.py: python -m train writes TensorBoard files through tensorflow, "
             "which this python lacks (pip install tensorflow-cpu)")
  if _stopping:
    sys.exit("gpu_recipe.py: stopped before training")

  with tempfile.TemporaryDirectory(prefix="gpu_recipe_") as workdir:
    status, wall_s = _train(args.config, overrides, pathlib.Path(workdir) / "run")
    fields = _run_fields(pathlib.Path(workdir) / "run")
  fields.update(wall_s=round(wall_s, 1), exit_status=status)
  if fields["total_steps"] is None and config.num_train_steps > 0:  # stopped before its end
    fields["total_steps"] = config.num_train_steps
  if fields["img_per_s"]:
    ratio = fields["img_per_s"] / bare["img_per_s"]
    fields.update(
        bare_step_img_per_s=bare["img_per_s"], pipeline_img_per_s=pipeline["img_per_s"],
        end_to_end_over_bare=round(ratio, 3),
        pipeline_over_bare=round(pipeline["img_per_s"] / bare["img_per_s"], 3),
        limited_by=_verdict(fields["img_per_s"], bare["img_per_s"], pipeline["img_per_s"]),
        model_tflop_per_s=round(bare["model_tflop_per_s"] * ratio, 3))
    fields["input_keeps_up"] = fields["limited_by"] != "input pipeline"
  store.emit({"part": "end_to_end", **fields, **common, "device": bare["device"]})
  if status:
    sys.exit(f"gpu_recipe.py: python -m train ended with status {status} at step "
             f"{fields['steps_done']}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
