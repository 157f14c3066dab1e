"""Kinds of training, by name: `config.task` selects one (default "classification").

    config = tasks.default_config("classification")   # every field, with defaults
    tasks.validate(config)                            # one readable ValueError, or None
    task = tasks.get(config.task)                     # model, train step, evaluators

A task's config has the common fields (`base.common_fields`) and its own
(`Task.fields`); a field of another task is refused. `register` adds a task (the tests
add a regression toy to prove the loop is not classification-shaped).
"""
import ml_collections

from jcnn.tasks import base, classification, detection, rcnn, sppnet
from jcnn.tasks.base import Evaluator, Task, Training, all_finite, apply_fn

__all__ = ["DETECTORS", "Evaluator", "Task", "Training", "all_finite", "apply_fn",
           "default_config", "get", "identity", "names", "register", "validate"]

# Tasks whose runs are detectors: `eval detect` and `eval predict` score and draw them.
DETECTORS = ("detection", "rcnn", "sppnet")

_TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
  """Makes `task` available as `config.task = task.name`."""
  if task.name in _TASKS and type(_TASKS[task.name]) is not type(task):
    raise ValueError(f"task {task.name!r} is registered twice")
  _TASKS[task.name] = task
  return task


def names() -> list[str]:
  return sorted(_TASKS)


def get(name: str) -> Task:
  """The task registered as `name`; unknown names raise ValueError listing the known."""
  if name not in _TASKS:
    raise ValueError(f"unknown task {name!r}; choose from {', '.join(names())}")
  return _TASKS[name]


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


register(classification.Classification())
register(detection.Detection())
register(rcnn.RCNN())
register(sppnet.SPPNet())
