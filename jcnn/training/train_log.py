"""The train records of the metrics log, and the progress bar's figures."""
import time

import jax
import jax.numpy as jnp
import tqdm

from jcnn import runs

INSTANT_METRICS = ("learning_rate",)  # logged as at the record's step, not averaged
_add = jax.jit(lambda a, b: jax.tree.map(jnp.add, a, b))  # one dispatch per step


class TrainLog:
  """The train records: metrics averaged over the window's steps (one batch's are too
  noisy to read a training error from), images per second, steps skipped.

  A window ends at each train record and each checkpoint, so a run resumed from a
  checkpoint logs what an uninterrupted one does."""

  def __init__(self, run: runs.Run, bar: tqdm.tqdm, batch_size: int, progress: tuple):
    self._run, self._bar, self._batch_size, self._progress = run, bar, batch_size, progress
    self._skipped = 0
    self.restart_window()

  def restart_window(self) -> None:
    self._start, self._steps = time.perf_counter(), 0
    self._sums, self._summed = None, 0

  def stepped(self, step: int, first: bool, compile_timer, metrics) -> None:
    """Counts a step; the first of a process compiles (or loads from the cache)."""
    self._sums = metrics if self._sums is None else _add(self._sums, metrics)
    self._summed, self._last = self._summed + 1, metrics
    if not first:
      self._steps += 1
      return
    jax.block_until_ready(metrics)
    self._run.log(step, "compile", {"first_step_s": time.perf_counter() - self._start,
                                    "compile_s": compile_timer.seconds})
    self._start = time.perf_counter()  # the window's speed leaves the compile out

  def train(self, step: int, guard) -> None:
    values = {k: float(v) / self._summed for k, v in jax.device_get(self._sums).items()}
    values.update({k: float(self._last[k]) for k in INSTANT_METRICS if k in self._last})
    skipped = int(guard["skipped"])
    values["skipped_steps"] = skipped - self._skipped
    self._skipped = skipped
    values["img_per_s"] = self._steps * self._batch_size / (time.perf_counter() - self._start)
    self.restart_window()
    self._run.log(step, "train", values)
    self._bar.set_postfix({**{k: f"{values[k]:.3f}" for k in self._progress},
                           "img_s": f"{values['img_per_s']:.0f}"})
