"""`train_and_evaluate(config, workdir)`: the one training loop, for every task.

The task (`config.task`, jcnn.tasks) gives the model, the pure train step, the batches
and the evaluators; this loop adds what every run needs:
- resume: a workdir with checkpoints continues from the newest readable one and
  repeats, bit for bit on CPU, what an uninterrupted run would have done (data order
  and augmentation come from (seed, epoch, batch), dropout from (seed, step));
- the non-finite guard (`guard`): a step whose loss or new state is not finite is not
  applied; `config.max_nonfinite_steps` of them in a row stop the run
  (`NonFiniteError`), and a diverged or non-finite state is never checkpointed;
- preemption (`signals`): SIGTERM or SIGINT saves a checkpoint at the current step,
  then raises `Preempted`; running the same command again resumes there;
- several processes (`jcnn.parallel.initialize`): the same loop on each, fed its rows
  of every batch; they check they run the same config, stop at the same step, and
  process 0 alone shows progress and writes the run's files (`jcnn.runs`).
"""
import sys

import ml_collections
import tqdm

from jcnn import data, parallel, runs, runtime, tasks
from jcnn.training import guard as guard_lib
from jcnn.training.checkpointing import CheckpointPolicy
from jcnn.training.setup import Setup, set_up
from jcnn.training.signals import Preempted, StopSignals
from jcnn.training.train_log import TrainLog


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains `config` in `workdir` (resuming if possible) and evaluates it.

  Returns:
    The first evaluator's final metrics (classification: `top1`, `top5`, `loss`,
    `num_examples`), those of the task's stages after the loop, and `step`.

  Raises:
    ValueError: a bad config or workdir. runs.RunInUse: another process trains there.
    checkpoint.CheckpointError: checkpoints exist but none is readable.
    NonFiniteError, Preempted: as described in the module docstring.
  """
  tasks.validate(config)
  parallel.check_same("configs or workdirs", config.to_json() + "\n" + str(workdir))
  task = tasks.get(config.task)
  with runs.Run.create(workdir, config, tasks.identity(config)) as run:
    setup = set_up(config, task, run)
    # One process shows the progress and the evaluations (the others compute the same).
    primary = parallel.is_primary()
    bar = tqdm.tqdm(total=setup.total_steps, initial=setup.start_step, unit="step",
                    dynamic_ncols=True, desc=config.name, mininterval=0.5,
                    disable=not primary)

    def say(line: str) -> None:
      if primary:
        bar.write(line, file=sys.stderr)

    policy = CheckpointPolicy(config, run, setup.training.evaluators,
                              setup.checkpoint_every, setup.total_steps, say)
    log = TrainLog(run, bar, config.batch_size, setup.training.progress)
    with bar, StopSignals() as stop:
      state, step, results = _steps(config, setup, run, policy, log, bar, stop)
      if results is None:  # resumed at the very end: evaluate what is there
        results = policy.evaluate(step, state)
    if step in run.steps():
      run.mark_finished(step, setup.total_steps)
    return {**results, **task.finish(config, run, state.eval_variables(), step, setup.mesh),
            "step": step}


def _steps(config: ml_collections.ConfigDict, setup: Setup, run: runs.Run,
           policy: CheckpointPolicy, log: TrainLog, bar: tqdm.tqdm, stop: StopSignals):
  """Steps from `setup.start_step` to the end; returns (state, step, the last
  checkpoint's results or None when no step was left)."""
  train_step = guard_lib.jit_train_step(
      guard_lib.guarded_step(setup.training.train_step, setup.schedule), setup.mesh)
  guard = guard_lib.new_guard(setup.mesh)
  state, step, results, previous_guard = setup.state, setup.start_step, None, None
  while step < setup.total_steps:
    epoch, start_batch = divmod(step, setup.steps_per_epoch)
    host_batches = setup.training.batches(epoch, start_batch)
    # The thread also copies each batch to the devices, so the step never waits on it.
    for batch in data.prefetch(parallel.put_batch(b, setup.mesh) for b in host_batches):
      with runtime.CompileTimer() as compile_timer:
        state, step_metrics, guard = train_step(state, batch, guard)
      step += 1
      bar.update(1)
      log.stepped(step, step == setup.start_step + 1, compile_timer, step_metrics)
      checkpointing = policy.due(step)
      # Between checkpoints the count is read one step late, so the host never waits
      # for the step it just started; a checkpoint waits for it anyway.
      counted = guard if checkpointing else previous_guard
      previous_guard = guard
      if counted is not None:
        guard_lib.check_nonfinite(counted, step, config.max_nonfinite_steps, run, log, guard)
      logging_step = step % config.log_every_steps == 0 or step == setup.total_steps
      if logging_step:
        log.train(step, guard)
      if checkpointing:
        results = policy.evaluate(step, state)
        policy.save(step, state, results, guard)
        log.restart_window()
      if stop.requested(agree=logging_step or checkpointing):
        if step not in run.steps():
          run.save(state)
        raise Preempted(stop.signum, step)
      if step == setup.total_steps:
        break
  return state, step, results
