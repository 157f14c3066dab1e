"""The checkpoint policy: at each checkpoint step every evaluator runs, and the state is
saved unless the last step, the state or the evaluation is not finite."""
import math
from typing import Callable, Sequence

import jax
import ml_collections

from jcnn import runs
from jcnn.tasks import Evaluator, all_finite


class CheckpointPolicy:
  """When to checkpoint, what to evaluate there, and whether the state may be kept.

  Args:
    say: prints one line for the user (the primary process's progress bar).
  """

  def __init__(self, config: ml_collections.ConfigDict, run: runs.Run,
               evaluators: Sequence[Evaluator], every: int, total_steps: int,
               say: Callable[[str], None]):
    self._config, self._run, self._evaluators = config, run, evaluators
    self._every, self._total_steps, self._say = every, total_steps, say
    self._state_is_finite = jax.jit(all_finite)

  def due(self, step: int) -> bool:
    return step % self._every == 0 or step == self._total_steps

  def evaluate(self, step: int, state) -> dict:
    """Runs every evaluator, logs and shows its metrics; returns the first one's."""
    results = None
    for evaluator in self._evaluators:
      values = evaluator.run(state.eval_variables())
      self._run.log(step, evaluator.name, values)
      self._say(f"step {step}: {evaluator.name} " + "  ".join(
          f"{k} {v:.4f}" for k, v in values.items()
          # Per-class values ("ap50/dog") go to the log, not the terminal.
          if isinstance(v, float) and "/" not in k))
      results = values if results is None else results
    return results

  def save(self, step: int, state, results: dict, guard) -> None:
    """Checkpoints `state` with `results` for keep-the-best, unless something is not
    finite (then says why and keeps the previous checkpoints only)."""
    best = self._config.best_metric
    if best and best not in results:
      raise ValueError(f"config.best_metric={best!r} is not an evaluation metric; the "
                       f"evaluator gives {', '.join(sorted(results))}")
    why_not = None
    if int(guard["consecutive"]):
      why_not = "the last step was not finite"
    elif not bool(self._state_is_finite(state)):
      why_not = "the state has non-finite values"
    elif not all(math.isfinite(v) for v in results.values() if isinstance(v, float)):
      why_not = "its evaluation is not finite"
    if why_not:
      self._say(f"step {step}: not checkpointed: {why_not}")
      return
    self._run.save(state, {k: v for k, v in results.items() if isinstance(v, float)})
