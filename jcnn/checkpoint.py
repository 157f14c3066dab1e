"""Orbax checkpoints in a folder of their own (a run's is `jcnn.runs.Run.checkpoint_dir`):

    <directory>/<step>/model   params, batch_stats, ema_params (what eval needs)
    <directory>/<step>/train   step, opt_state, rng (what resuming needs too)

Saves are synchronous and atomic (orbax writes a temporary folder, then renames it),
so a run killed at any moment leaves the previous checkpoints intact.
"""
import pathlib
from typing import Any

from absl import logging

import jax
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as policies

from jcnn.state import TrainState


class CheckpointError(RuntimeError):
  """A checkpoint is missing, truncated or unreadable."""


class CheckpointReadError(OSError):
  """Reading a checkpoint failed in a way that may pass (an I/O or permission error, a
  storage service unavailable or timing out, memory running out): nothing is said of
  the checkpoint; try again."""


# tensorstore's status codes for failures of the storage rather than of the files.
_TRANSIENT_CODES = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "PERMISSION_DENIED",
                    "RESOURCE_EXHAUSTED", "ABORTED", "CANCELLED")


def make_manager(directory: str | pathlib.Path, *, keep: int = 3, best_metric: str | None = None,
                 best_mode: str = "max", read_only: bool = False) -> ocp.CheckpointManager:
  """A CheckpointManager keeping the last `keep` checkpoints and the best one.

  Args:
    directory: the checkpoints' folder.
    keep: how many of the most recent checkpoints to keep.
    best_metric: also keep the checkpoint with the best value of this metric.
    best_mode: "max" or "min": which direction is better for `best_metric`.
    read_only: open for restoring only (evaluation); never writes or deletes.
  """
  directory = pathlib.Path(directory).absolute()
  if read_only and not directory.is_dir():
    raise CheckpointError(f"no checkpoints in {directory}")
  if best_mode not in ("max", "min"):
    raise ValueError(f"best_mode must be 'max' or 'min', got {best_mode!r}")
  keep_policies = [policies.LatestN(n=keep)]
  if best_metric:
    keep_policies.append(policies.BestN(
        get_metric_fn=lambda metrics: metrics[best_metric], reverse=best_mode == "min",
        n=1, keep_checkpoints_without_metrics=False))
  options = ocp.CheckpointManagerOptions(
      preservation_policy=policies.AnyPreservationPolicy(keep_policies),
      enable_async_checkpointing=False, create=not read_only, read_only=read_only,
      # A save cut short (a killed process, a full disk) leaves a temporary folder;
      # a writer starting in the folder removes it (runs.Run warns first).
      cleanup_tmp_directories=not read_only)
  if not read_only:
    return ocp.CheckpointManager(directory, item_names=("model", "train"), options=options)
  # Orbax warns, for every read-only manager, that it will not save: true and useless.
  verbosity = logging.get_verbosity()
  logging.set_verbosity(min(verbosity, logging.ERROR))  # absl: lower is quieter
  try:
    return ocp.CheckpointManager(directory, item_names=("model", "train"), options=options)
  finally:
    logging.set_verbosity(verbosity)


def _model_item(state: TrainState) -> dict:
  item = {"params": state.params, "batch_stats": state.batch_stats}
  if state.ema_params is not None:
    item["ema_params"] = state.ema_params
  return item


def _train_item(state: TrainState) -> dict:
  return {"step": state.step, "opt_state": state.opt_state, "rng": state.rng}


def save(manager: ocp.CheckpointManager, state: TrainState,
         metrics: dict[str, float] | None = None) -> None:
  """Saves `state` at its step (with `metrics` for keep-the-best)."""
  step = int(jax.device_get(state.step))
  manager.save(step, args=ocp.args.Composite(
      model=ocp.args.StandardSave(_model_item(state)),
      train=ocp.args.StandardSave(_train_item(state))), metrics=metrics, force=True)


def _resolve_step(manager: ocp.CheckpointManager, step: int | None) -> int:
  steps = manager.all_steps()
  if not steps:
    raise CheckpointError(f"no checkpoints in {manager.directory}")
  if step is None:
    return max(steps)
  if step not in steps:
    raise CheckpointError(f"no checkpoint at step {step} in {manager.directory}; "
                          f"available steps: {', '.join(map(str, sorted(steps)))}")
  return step


def _restore(manager: ocp.CheckpointManager, step: int, **items: Any) -> Any:
  """Raises CheckpointReadError where the reading failed (it may pass), CheckpointError
  where the files are damaged (a missing file inside the checkpoint included)."""
  try:
    return manager.restore(step, args=ocp.args.Composite(
        **{k: ocp.args.StandardRestore(v) for k, v in items.items()}))
  except Exception as e:  # orbax/tensorstore raise many types for damaged files
    path = pathlib.Path(manager.directory) / str(step)
    reason = str(e).splitlines()[0] if str(e) else type(e).__name__
    detail = f"{type(e).__name__}: {reason[:300]}"
    transient = (isinstance(e, MemoryError)
                 or isinstance(e, OSError) and not isinstance(e, FileNotFoundError)
                 or any(code in reason for code in _TRANSIENT_CODES))
    if transient:
      raise CheckpointReadError(f"could not read checkpoint {path} ({detail}); it is left "
                                f"as it is: run the same command again") from e
    raise CheckpointError(f"checkpoint {path} is truncated or corrupt ({detail})") from e


def restore_state(manager: ocp.CheckpointManager, target: TrainState,
                  step: int | None = None) -> TrainState:
  """Restores a full TrainState (latest step by default) into `target`'s structure.

  `target` is a freshly created state: its arrays give shapes, dtypes and shardings.
  """
  step = _resolve_step(manager, step)
  restored = _restore(manager, step, model=_model_item(target), train=_train_item(target))
  return target.replace(**restored["model"], **restored["train"])


def restore_variables(directory: str | pathlib.Path, target: dict,
                      step: int | None = None, *, use_ema: bool = True) -> tuple[int, dict]:
  """Restores the evaluation variables of a run without its optimizer state.

  Args:
    directory: the checkpoints' folder.
    target: `{"params": ..., "batch_stats": ..., ["ema_params": ...]}` of the right
      structure (e.g. from `jax.eval_shape` of the model's init).
    step: which checkpoint; the latest when None.
    use_ema: return the EMA weights as `params` when the checkpoint has them.

  Returns:
    `(step, variables)` ready for `model.apply`.
  """
  manager = make_manager(directory, read_only=True)
  step = _resolve_step(manager, step)
  item = _restore(manager, step, model=target)["model"]
  params = item["ema_params"] if use_ema and "ema_params" in item else item["params"]
  variables = {"params": params}
  if item.get("batch_stats"):
    variables["batch_stats"] = item["batch_stats"]
  return step, variables


def unfinished_saves(directory: str | pathlib.Path) -> list[pathlib.Path]:
  """Temporary folders of saves that never finished in `directory` (orbax's atomic
  saves write under a temporary name and rename when complete)."""
  directory = pathlib.Path(directory)
  return sorted(directory.glob(f"*{ocp.path.atomicity_types.TMP_DIR_SUFFIX}*")) \
      if directory.is_dir() else []


def all_steps(directory: str | pathlib.Path) -> list[int]:
  """Steps of the finished checkpoints in `directory`, ascending; [] when there are none.

  Reads the folder without a manager: a manager's start is a barrier of all processes,
  and this is asked by one process alone too (the primary, checking the run's config).
  """
  directory = pathlib.Path(directory).absolute()
  if not directory.is_dir():
    return []
  return sorted(ocp.utils.checkpoint_steps(directory))
