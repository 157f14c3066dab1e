"""The training loop, for every task: `train_and_evaluate(config, workdir)`.

    loop.py           train_and_evaluate: the run opened, set up, stepped, finished
    setup.py          mesh, the task's Training, schedule, state (initialised, resumed)
    checkpointing.py  the checkpoint policy: evaluate, then save unless non-finite
    guard.py          the non-finite guard: bad steps dropped, too many stop the run
    signals.py        SIGTERM / SIGINT: checkpoint, then `Preempted`
    train_log.py      the train records (windowed means, images/s) and progress bar
    study.py          a study's or sweep's runs, one after another
"""
from jcnn.training.guard import NonFiniteError, guarded_step, jit_train_step, new_guard
from jcnn.training.loop import train_and_evaluate
from jcnn.training.signals import Preempted
from jcnn.training.study import run_study

__all__ = ["NonFiniteError", "Preempted", "guarded_step", "jit_train_step", "new_guard",
           "run_study", "train_and_evaluate"]
