"""The tasks by name: `config.task` selects one. Task modules may import this module
(it imports no task), so one task can restore another's run (a pre-trained backbone)."""
import ml_collections

from jcnn import runs
from jcnn.tasks import base

_TASKS: dict[str, base.Task] = {}


def register(task: base.Task) -> base.Task:
  """Makes `task` available as `config.task = task.name`."""
  if task.name in _TASKS and type(_TASKS[task.name]) is not type(task):
    raise ValueError(f"task {task.name!r} is registered twice")
  _TASKS[task.name] = task
  return task


def names() -> list[str]:
  return sorted(_TASKS)


def get(name: str) -> base.Task:
  """The task registered as `name`; unknown names raise ValueError listing the known."""
  if name not in _TASKS:
    raise ValueError(f"unknown task {name!r}; choose from {', '.join(names())}")
  return _TASKS[name]


def detectors() -> tuple[str, ...]:
  """The tasks whose runs are detectors (`Task.detects`): what `eval detect` scores."""
  return tuple(name for name in names() if _TASKS[name].detects)


def default_config(task: str = "classification") -> ml_collections.ConfigDict:
  """Every field a run of `task` understands, with its default."""
  config = base.common_fields()
  config.task = task
  config.update(get(task).fields())
  return config


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises ValueError naming the first bad field: unknown task, foreign field, bad value."""
  if "task" not in config:
    raise ValueError("config.task is missing; build configs from jcnn.tasks.default_config()")
  task = get(config.task)
  own = set(base.common_fields()) | set(task.fields())
  for field in config:
    if field not in own:
      owners = [t for t in names() if field in _TASKS[t].fields()]
      whose = f"a field of task {owners[0]!r}" if owners else "not a known field"
      raise ValueError(f"config.{field} is {whose}, not of task {task.name!r}")
  for field in own - set(config):
    raise ValueError(f"config.{field} is missing (task {task.name!r}); build configs "
                     f"from jcnn.tasks.default_config({task.name!r})")
  base.validate_common(config)
  task.validate(config)


def identity(config: ml_collections.ConfigDict) -> tuple[str, ...]:
  """The fields that define a run of `config`'s task."""
  return base.IDENTITY + get(config.task).identity


def restore(run: runs.Run, step: int | None = None, *, use_ema: bool = True) -> base.Restored:
  """The checkpoint of `run` at `step` (the latest when None), rebuilt by its task."""
  return get(run.config.task).restore(run, step, use_ema=use_ema)
