"""`train_and_evaluate(config, workdir)`: the one training loop, for every task.

The task (`config.task`, jcnn.tasks) gives the model, the pure train step, the batches
and the evaluators; this loop adds what every run needs:
- resume: a workdir with checkpoints continues from the newest readable one and
  repeats, bit for bit on CPU, what an uninterrupted run would have done (data order
  and augmentation come from (seed, epoch, batch), dropout from (seed, step));
- the non-finite guard: a step whose loss or new state is not finite is not applied;
  `config.max_nonfinite_steps` of them in a row stop the run (`NonFiniteError`), and
  a diverged or non-finite state is never checkpointed;
- preemption: SIGTERM or SIGINT saves a checkpoint at the current step, then raises
  `Preempted`; running the same command again resumes there;
- several processes (`jcnn.parallel.initialize`): the same loop on each, fed its rows
  of every batch; they check they run the same config, stop at the same step, and
  process 0 alone shows progress and writes the run's files (`jcnn.runs`).
"""
import math
import signal
import sys
import threading
import time

import jax
import jax.numpy as jnp
import ml_collections
import tqdm

from jcnn import data, optim, parallel, runs, runtime, tasks
from jcnn import state as state_lib


class NonFiniteError(RuntimeError):
  """Too many consecutive steps had a non-finite loss or update."""


class Preempted(Exception):
  """Training stopped on a signal after checkpointing; `signum` names it."""

  def __init__(self, signum: int, step: int):
    super().__init__(f"stopped by {signal.Signals(signum).name} at step {step}; the "
                     f"checkpoint is saved: run the same command again to resume")
    self.signum = signum


def guarded_step(train_step, schedule):
  """Wraps a task's step: non-finite steps are dropped and counted.

  Returns `step(state, batch, guard) -> (state, metrics, guard)`, where `guard` holds
  int32 counts `consecutive` (non-finite steps in a row) and `skipped` (in all). A
  dropped step leaves parameters, optimizer state, statistics and EMA as they were;
  only the step counter moves on, so the next step draws the next batch and key.
  """

  def step(state, batch, guard):
    new_state, metrics = train_step(state, batch)
    ok = jnp.isfinite(metrics["loss"]) & tasks.all_finite(new_state)
    unchanged = state.replace(step=new_state.step)
    new_state = jax.tree.map(lambda new, old: jnp.where(ok, new, old), new_state, unchanged)
    bad = jnp.where(ok, 0, 1).astype(jnp.int32)
    guard = {"consecutive": (guard["consecutive"] + bad) * bad,
             "skipped": guard["skipped"] + bad}
    return new_state, {**metrics, "learning_rate": schedule(state.step)}, guard

  return step


def new_guard(mesh) -> dict:
  """The guard's counts at the start of a process: nothing skipped yet."""
  zero = jnp.zeros((), jnp.int32)
  return jax.device_put({"consecutive": zero, "skipped": zero}, parallel.replicated(mesh))


def jit_train_step(step, mesh):
  """Compiles the guarded step over the mesh: state replicated and donated, batch split."""
  replicated = parallel.replicated(mesh)
  return jax.jit(parallel.traced_on(mesh, step),
                 in_shardings=(replicated, parallel.batch_sharded(mesh), replicated),
                 out_shardings=(replicated, replicated, replicated), donate_argnums=(0,))


class _StopSignals:
  """Records SIGTERM / SIGINT instead of dying, so the loop can checkpoint first.

  A second signal while the first is being handled stops at once (KeyboardInterrupt).
  Outside the main thread (a notebook's worker, a test thread) nothing is installed.
  """

  def __init__(self):
    self.signum = None
    self._previous = {}

  def _handle(self, signum, frame):
    if self.signum is not None:
      raise KeyboardInterrupt
    self.signum = signum

  def requested(self, agree: bool) -> bool:
    """Whether to stop after this step.

    With several processes all must stop at the same step, so a signal is acted on
    only at steps where they `agree` (log and checkpoint steps: one all-gather), by
    every process, whichever received it.
    """
    if jax.process_count() == 1:
      return self.signum is not None
    if not agree or not parallel.any_process(self.signum is not None):
      return False
    self.signum = self.signum or signal.SIGTERM
    return True

  def __enter__(self) -> "_StopSignals":
    if threading.current_thread() is threading.main_thread():
      for signum in (signal.SIGTERM, signal.SIGINT):
        self._previous[signum] = signal.signal(signum, self._handle)
    return self

  def __exit__(self, *exc) -> None:
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)


def _all_finite_values(values: dict) -> bool:
  return all(math.isfinite(v) for v in values.values() if isinstance(v, float))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains `config` in `workdir` (resuming if possible) and evaluates it.

  Returns:
    The first evaluator's final metrics (classification: `top1`, `top5`, `loss`,
    `num_examples`) and `step`.

  Raises:
    ValueError: a bad config or workdir. runs.RunInUse: another process trains there.
    checkpoint.CheckpointError: checkpoints exist but none is readable.
    NonFiniteError, Preempted: as described in the module docstring.
  """
  tasks.validate(config)
  parallel.check_same("configs or workdirs", config.to_json() + "\n" + str(workdir))
  task = tasks.get(config.task)
  with runs.Run.create(workdir, config, tasks.identity(config)) as run:
    return _train(config, task, run)


def _train(config: ml_collections.ConfigDict, task: tasks.Task, run: runs.Run) -> dict:
  mesh = parallel.make_mesh(config.num_devices)
  parallel.check_batch_size(config.batch_size, mesh)
  parallel.check_batch_size(config.eval_batch_size, mesh)
  training = task.training(config, mesh, run)
  run.save_dataset_info(training.dataset_info)

  steps_per_epoch = data.steps_per_epoch(training.num_examples, config.batch_size)
  total_steps = (config.num_train_steps if config.num_train_steps > 0
                 else config.num_epochs * steps_per_epoch)
  checkpoint_every = config.checkpoint_every_steps or steps_per_epoch
  schedule = optim.make_schedule(config, steps_per_epoch, total_steps)
  state = jax.device_put(
      state_lib.create(training.model, optim.make_optimizer(config, schedule),
                       rng=jax.random.PRNGKey(config.seed),
                       input_shape=task.input_shape(training.dataset_info),
                       ema_decay=config.ema_decay,
                       apply_fn=tasks.apply_fn(config, training.model)),
      parallel.replicated(mesh))
  if training.init_params is not None:
    state = _initialised(state, training.init_params, mesh)
  state = run.resume(state)
  start_step = int(jax.device_get(state.step))
  run.truncate_log(start_step)

  train_step = jit_train_step(guarded_step(training.train_step, schedule), mesh)
  state_is_finite = jax.jit(tasks.all_finite)
  guard = new_guard(mesh)

  def evaluate(step: int) -> dict:
    results = None
    for evaluator in training.evaluators:
      values = evaluator.run(state.eval_variables())
      run.log(step, evaluator.name, values)
      say(f"step {step}: {evaluator.name} " + "  ".join(
          f"{k} {v:.4f}" for k, v in values.items()
          # Per-class values ("ap50/dog") go to the log, not the terminal.
          if isinstance(v, float) and "/" not in k))
      results = values if results is None else results
    return results

  def checkpoint(step: int, results: dict) -> None:
    if config.best_metric and config.best_metric not in results:
      raise ValueError(f"config.best_metric={config.best_metric!r} is not an evaluation "
                       f"metric; the evaluator gives {', '.join(sorted(results))}")
    why_not = None
    if int(guard["consecutive"]):
      why_not = "the last step was not finite"
    elif not bool(state_is_finite(state)):
      why_not = "the state has non-finite values"
    elif not _all_finite_values(results):
      why_not = "its evaluation is not finite"
    if why_not:
      say(f"step {step}: not checkpointed: {why_not}")
      return
    run.save(state, {k: v for k, v in results.items() if isinstance(v, float)})

  results = None
  step = start_step
  # One process shows the progress and the evaluations (the others compute the same).
  primary = parallel.is_primary()
  bar = tqdm.tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True,
                  desc=config.name, mininterval=0.5, disable=not primary)

  def say(line: str) -> None:
    if primary:
      bar.write(line, file=sys.stderr)

  log = _TrainLog(run, bar, config.batch_size, training.progress)
  with bar, _StopSignals() as stop:
    previous_guard = None
    while step < total_steps:
      epoch, start_batch = divmod(step, steps_per_epoch)
      host_batches = training.batches(epoch, start_batch)
      # The thread also copies each batch to the devices, so the step never waits on it.
      for batch in data.prefetch(parallel.put_batch(b, mesh) for b in host_batches):
        with runtime.CompileTimer() as compile_timer:
          state, step_metrics, guard = train_step(state, batch, guard)
        step += 1
        bar.update(1)
        log.stepped(step, step == start_step + 1, compile_timer, step_metrics)
        checkpointing = step % checkpoint_every == 0 or step == total_steps
        # Between checkpoints the count is read one step late, so the host never waits
        # for the step it just started; a checkpoint waits for it anyway.
        counted = guard if checkpointing else previous_guard
        previous_guard = guard
        if counted is not None:
          _check_nonfinite(counted, step, config, run, log, guard)
        logging_step = step % config.log_every_steps == 0 or step == total_steps
        if logging_step:
          log.train(step, guard)
        if checkpointing:
          results = evaluate(step)
          checkpoint(step, results)
          log.restart_window()
        if stop.requested(agree=logging_step or checkpointing):
          if step not in run.steps():
            run.save(state)
          raise Preempted(stop.signum, step)
        if step == total_steps:
          break
    if results is None:  # resumed at the very end: evaluate what is there
      results = evaluate(step)
  if step in run.steps():
    run.mark_finished(step, total_steps)
  return {**results, **task.finish(config, run, state.eval_variables(), step, mesh),
          "step": step}


def _initialised(state, init_params, mesh):
  """`state` with the task's initial parameters (and their copy as the EMA)."""
  params = jax.device_put(init_params(state.params), parallel.replicated(mesh))
  ema = None if state.ema_params is None else jax.tree.map(jnp.copy, params)
  return state.replace(params=params, ema_params=ema)


INSTANT_METRICS = ("learning_rate",)  # logged as at the record's step, not averaged
_add = jax.jit(lambda a, b: jax.tree.map(jnp.add, a, b))  # one dispatch per step


class _TrainLog:
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


def _check_nonfinite(counted, step: int, config: ml_collections.ConfigDict, run: runs.Run,
                     log: _TrainLog, guard) -> None:
  """Raises NonFiniteError once `counted` has max_nonfinite_steps in a row.

  Before raising it logs the train record of `step` (the window's metrics, `guard`):
  the steps skipped since the last record.
  """
  consecutive = int(counted["consecutive"])
  if consecutive >= config.max_nonfinite_steps:
    log.train(step, guard)
    kept = run.steps()
    last = f"the last checkpoint, step {kept[-1]}, is kept" if kept else "no checkpoint was saved"
    raise NonFiniteError(
        f"stopped at step {step}: {consecutive} consecutive steps had a non-finite loss "
        f"or update (config.max_nonfinite_steps={config.max_nonfinite_steps}) and none "
        f"was applied; {last}. Lower config.learning_rate or check the data")

