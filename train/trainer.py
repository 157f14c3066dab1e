"""`train_and_evaluate(config, workdir)`: the training loop.

Resumes automatically: if `workdir` holds checkpoints, training continues from the
latest one and repeats, bit for bit on CPU, what an uninterrupted run would have done
(data order and augmentation come from (seed, epoch, batch), dropout from (seed, step)).
"""
import json
import pathlib
import time

import jax
import ml_collections
import numpy as np
import tqdm

from jcnn import checkpoint, data, evaluation, experiment, optim, parallel, runtime
from jcnn import state as state_lib
from train import steps

METRICS_FILE = "metrics.jsonl"
_RUN_IDENTITY = ("model", "model_kwargs", "dataset", "resize", "pad", "train_examples",
                 "eval_examples")


def _prepare_workdir(workdir: pathlib.Path, config: ml_collections.ConfigDict) -> None:
  """Creates the workdir, refusing a file or a folder that holds a different run."""
  if workdir.exists() and not workdir.is_dir():
    raise ValueError(f"workdir {workdir} exists and is not a folder")
  workdir.mkdir(parents=True, exist_ok=True)
  saved = workdir / experiment.CONFIG_FILE
  if saved.exists() and checkpoint.all_steps(workdir):
    old = json.loads(saved.read_text())
    for key in _RUN_IDENTITY:
      if key not in old:  # a run from before the field existed used its default
        continue
      new_value = config.to_dict().get(key)
      if json.loads(json.dumps(new_value)) != old[key]:
        raise ValueError(f"workdir {workdir} holds a run with {key}={old.get(key)!r}, not "
                         f"{new_value!r}; choose another --workdir to start a new run")
  experiment.save_json(saved, json.loads(config.to_json()))


class _MetricsLog:
  """Metrics to a JSON-lines file and TensorBoard event files in the workdir."""

  def __init__(self, workdir: pathlib.Path, resume_step: int):
    self._path = workdir / METRICS_FILE
    if self._path.exists():  # drop records past the checkpoint we resume from
      kept = [line for line in self._path.read_text().splitlines()
              if line and json.loads(line)["step"] <= resume_step]
      self._path.write_text("".join(line + "\n" for line in kept))
    from flax.metrics import tensorboard  # imports TensorFlow: only when training
    self._tb = tensorboard.SummaryWriter(str(workdir / "tensorboard"))

  def write(self, step: int, split: str, values: dict) -> None:
    with self._path.open("a") as f:
      f.write(json.dumps({"step": step, "split": split, **values}) + "\n")
    for name, value in values.items():
      self._tb.scalar(f"{split}/{name}", value, step)
    self._tb.flush()

  def close(self):
    self._tb.close()


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains `config` in `workdir` (resuming if possible) and evaluates it.

  Returns:
    The final evaluation metrics: `top1`, `top5`, `loss`, `num_examples`, `step`.
  """
  experiment.validate(config)
  workdir = pathlib.Path(workdir)
  _prepare_workdir(workdir, config)
  mesh = parallel.make_mesh(config.num_devices)
  parallel.check_batch_size(config.batch_size, mesh)
  parallel.check_batch_size(config.eval_batch_size, mesh)

  train_split = experiment.load_split(config, config.train_split)
  eval_split = experiment.load_split(config, config.eval_split)
  info = experiment.dataset_info(config, train_split)
  experiment.save_json(workdir / experiment.DATASET_INFO, info)

  steps_per_epoch = data.steps_per_epoch(len(train_split), config.batch_size)
  total_steps = (config.num_train_steps if config.num_train_steps > 0
                 else config.num_epochs * steps_per_epoch)
  checkpoint_every = config.checkpoint_every_steps or steps_per_epoch

  model = experiment.build_model(config, train_split.num_classes)
  apply = experiment.apply_fn(config, model)
  schedule = optim.make_schedule(config, steps_per_epoch, total_steps)
  tx = optim.make_optimizer(config, schedule)
  state = jax.device_put(
      state_lib.create(model, tx, rng=jax.random.PRNGKey(config.seed),
                       input_shape=tuple(info["image_shape"]), ema_decay=config.ema_decay,
                       apply_fn=apply),
      parallel.replicated(mesh))

  manager = checkpoint.make_manager(workdir, keep=config.keep_checkpoints,
                                    best_metric=config.best_metric, best_mode=config.best_mode)
  if manager.latest_step() is not None:
    state = checkpoint.restore_state(manager, state)
  start_step = int(jax.device_get(state.step))

  train_step = steps.jit_train_step(steps.make_train_step(config, schedule), mesh)
  eval_step = evaluation.jit_eval_step(
      evaluation.make_eval_step(apply, train_split.num_classes), mesh)

  def run_eval(step: int) -> dict:
    results = evaluation.evaluate(
        eval_step, state.eval_variables(),
        experiment.batches(config, eval_split, info, train=False), mesh)
    log.write(step, "eval", results)
    return results

  log = _MetricsLog(workdir, start_step)
  results = None
  bar = tqdm.tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True,
                  desc=config.name, mininterval=0.5)
  try:
    step = start_step
    window_start, window_steps = time.perf_counter(), 0
    while step < total_steps:
      epoch, start_batch = divmod(step, steps_per_epoch)
      host_batches = experiment.batches(config, train_split, info, train=True, epoch=epoch,
                                        start_batch=start_batch)
      # The thread also copies each batch to the devices, so the step never waits on it.
      for batch in data.prefetch(parallel.put_batch(b, mesh) for b in host_batches):
        with runtime.CompileTimer() as compile_timer:
          state, step_metrics = train_step(state, batch)
        step += 1
        bar.update(1)
        if step == start_step + 1:  # the first call compiles (or loads from the cache)
          jax.block_until_ready(step_metrics)
          log.write(step, "compile", {"first_step_s": time.perf_counter() - window_start,
                                      "compile_s": compile_timer.seconds})
          window_start = time.perf_counter()
        else:
          window_steps += 1
        if step % config.log_every_steps == 0 or step == total_steps:
          values = {k: float(v) for k, v in jax.device_get(step_metrics).items()}
          elapsed = time.perf_counter() - window_start
          values["img_per_s"] = window_steps * config.batch_size / elapsed
          window_start, window_steps = time.perf_counter(), 0
          log.write(step, "train", values)
          bar.set_postfix(loss=f"{values['loss']:.3f}", acc=f"{values['top1']:.3f}",
                          img_s=f"{values['img_per_s']:.0f}")
        if step % checkpoint_every == 0 or step == total_steps:
          results = run_eval(step)
          checkpoint.save(manager, state, {k: results[k] for k in ("top1", "top5", "loss")})
          bar.write(f"step {step}: eval top1 {results['top1']:.4f} top5 {results['top5']:.4f} "
                    f"loss {results['loss']:.4f}")
          window_start, window_steps = time.perf_counter(), 0
        if step == total_steps:
          break
    if results is None:  # resumed at the very end: evaluate what is there
      results = run_eval(step)
  finally:
    bar.close()
    log.close()
    manager.close()
  return {**results, "step": step}

