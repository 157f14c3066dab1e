"""Top-1 / top-5 / loss of a checkpoint on a split, once or for every new checkpoint."""
import pathlib
import time
from typing import Iterator

from jcnn import checkpoint, evaluation, experiment
from eval import restore as restore_lib


def evaluate_run(run: restore_lib.RestoredRun, split: str) -> dict:
  """Evaluates a restored run on `split` of its dataset."""
  data_split = experiment.load_split(run.config, split)
  num_classes = len(run.info["class_names"])
  if data_split.images.shape[1:] != tuple(run.info["image_shape"]):
    raise ValueError(f"split {split!r} has images {data_split.images.shape[1:]}, the model "
                     f"was trained on {tuple(run.info['image_shape'])}")
  step_fn = evaluation.jit_eval_step(evaluation.make_eval_step(run.apply, num_classes),
                                     run.mesh)
  results = evaluation.evaluate(
      step_fn, run.variables,
      experiment.batches(run.config, data_split, run.info, train=False), run.mesh)
  return {**results, "step": run.step}


def evaluate_checkpoint(workdir: str | pathlib.Path, step: int | None = None,
                        split: str = "test") -> dict:
  """Restores `workdir` at `step` (latest when None) and evaluates it on `split`."""
  return evaluate_run(restore_lib.restore(workdir, step), split)


def watch(workdir: str | pathlib.Path, split: str = "test", interval: float = 10.0,
          timeout: float | None = None) -> Iterator[dict]:
  """Yields the evaluation of each checkpoint as it appears (the classic eval loop).

  Stops after `timeout` seconds without a new checkpoint (never when None).
  """
  seen: set[int] = set()
  last_new = time.monotonic()
  while timeout is None or time.monotonic() - last_new < timeout:
    for step in checkpoint.all_steps(workdir):
      if step in seen:
        continue
      seen.add(step)
      last_new = time.monotonic()
      try:
        yield evaluate_checkpoint(workdir, step, split)
      except checkpoint.CheckpointError:
        if step in checkpoint.all_steps(workdir):
          raise  # still there, so damaged: report it
        # else the trainer's keep-last-K policy deleted it before we got to it
    time.sleep(interval)
