"""Opens runs for eval's commands and scores their checkpoints with the task's evaluator:
once, or each new one as it lands."""
import pathlib
import time
from typing import Iterator

from jcnn import checkpoint, runs, tasks


def open_run(workdir: str | pathlib.Path, task: str | tuple[str, ...],
             command: str) -> runs.Run:
  """The run at `workdir`, read-only; refused unless it trained `task` (or one of them)."""
  run = runs.Run.open(workdir)
  wanted = (task,) if isinstance(task, str) else task
  if run.config.task not in wanted:
    kinds = " or ".join(filter(None, (", ".join(wanted[:-1]), wanted[-1])))
    raise ValueError(f"{workdir} is a {run.config.task} run; eval {command} needs a "
                     f"{kinds} run")
  return run


def score(run: runs.Run, step: int | None = None, split: str = "test") -> dict:
  """Restores `run` at `step` (latest when None) and evaluates it on `split`, as its
  task's evaluator does."""
  task = tasks.get(run.config.task)
  restored = task.restore(run, step)
  evaluator = task.evaluator(run, restored, task.load_split(run.config, split))
  return {**evaluator.run(restored.variables), "step": restored.step}


def watch(workdir: str | pathlib.Path, split: str = "test", interval: float = 10.0,
          timeout: float | None = None) -> Iterator[dict]:
  """Yields the evaluation of each checkpoint as it appears (the classic eval loop).

  Stops after `timeout` seconds without a new checkpoint (never when None).
  """
  run = runs.Run.open(workdir)
  seen: set[int] = set()
  last_new = time.monotonic()
  while timeout is None or time.monotonic() - last_new < timeout:
    for step in run.steps():
      if step in seen:
        continue
      seen.add(step)
      last_new = time.monotonic()
      try:
        yield score(run, step, split)
      except checkpoint.CheckpointError:
        if step in run.steps():
          raise  # still there, so damaged: report it
        # else the trainer's keep-last-K policy deleted it before we got to it
    time.sleep(interval)
