"""Kinds of training, by name: `config.task` selects one (default "classification").

    config = tasks.default_config("classification")   # every field, with defaults
    tasks.validate(config)                            # one readable ValueError, or None
    task = tasks.get(config.task)                     # model, train step, evaluators
    restored = tasks.restore(run)                     # a saved run's model and weights

What a task must give is declared whole in `base.Task`; callers (the training loop, the
eval program, notebooks, benchmarks) use that interface only, never a task's module.
A task's config has the common fields (`base.common_fields`) and its own
(`Task.fields`); a field of another task is refused. `register` adds a task (the tests
add a regression toy to prove the loop and eval are not classification-shaped).
"""
from jcnn.tasks import classification, detection, rcnn
from jcnn.tasks.base import Detector, Evaluator, Restored, Task, Training, all_finite, apply_fn
from jcnn.tasks.registry import (default_config, detectors, get, identity, names, register,
                                 restore, validate)

__all__ = ["Detector", "Evaluator", "Restored", "Task", "Training", "all_finite", "apply_fn",
           "default_config", "detectors", "get", "identity", "names", "register", "restore",
           "validate"]

register(classification.Classification())
register(detection.Detection())
register(rcnn.RCNN())
register(rcnn.SPPNet())
