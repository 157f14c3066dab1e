"""Everything a run needs before its first step: the mesh, the task's `Training`, the
schedule, and the state (initialised, pre-trained where the task says, resumed)."""
import dataclasses
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
from jax.sharding import Mesh

from jcnn import data, optim, parallel, runs
from jcnn import state as state_lib
from jcnn.models import layers
from jcnn.tasks import Task, Training, apply_fn


@dataclasses.dataclass
class Setup:
  """A run ready to step: `state` is at `start_step` (0, or where it resumes)."""
  mesh: Mesh
  training: Training
  steps_per_epoch: int
  total_steps: int
  checkpoint_every: int
  schedule: Callable
  state: state_lib.TrainState
  start_step: int


def set_up(config: ml_collections.ConfigDict, task: Task, run: runs.Run) -> Setup:
  """Builds the run's `Setup`; saves its dataset info and drops log records past the
  step it resumes from (what it will log again)."""
  mesh = parallel.make_mesh(config.num_devices)
  parallel.check_batch_size(config.batch_size, mesh)
  parallel.check_batch_size(config.eval_batch_size, mesh)
  training = task.training(config, mesh, run)
  run.save_dataset_info(training.dataset_info)

  steps_per_epoch = data.steps_per_epoch(training.num_examples, config.batch_size)
  total_steps = (config.num_train_steps if config.num_train_steps > 0
                 else config.num_epochs * steps_per_epoch)
  schedule = optim.make_schedule(config, steps_per_epoch, total_steps)
  state = jax.device_put(
      state_lib.create(training.model, optim.make_optimizer(config, schedule),
                       rng=jax.random.PRNGKey(config.seed),
                       input_shape=task.input_shape(training.dataset_info),
                       ema_decay=config.ema_decay,
                       apply_fn=_train_apply(config, training.model)),
      parallel.replicated(mesh))
  if training.init_variables is not None:
    state = _initialised(state, training.init_variables, mesh)
  state = run.resume(state)
  start_step = int(jax.device_get(state.step))
  run.truncate_log(start_step)
  return Setup(mesh=mesh, training=training, steps_per_epoch=steps_per_epoch,
               total_steps=total_steps,
               checkpoint_every=config.checkpoint_every_steps or steps_per_epoch,
               schedule=schedule, state=state, start_step=start_step)


def _initialised(state, init_variables, mesh):
  """`state` with the task's initial variables (and the parameters' copy as the EMA)."""
  variables = jax.device_put(
      init_variables({"params": state.params, "batch_stats": state.batch_stats}),
      parallel.replicated(mesh))
  ema = None if state.ema_params is None else jax.tree.map(jnp.copy, variables["params"])
  return state.replace(params=variables["params"], batch_stats=variables["batch_stats"],
                       ema_params=ema)


def _train_apply(config: ml_collections.ConfigDict, model: nn.Module) -> Callable:
  """What the train steps call: `apply_fn`, with the batch norms whose scale
  `config.freeze` freezes on their stored statistics when `config.freeze_batch_stats`
  (Keras' `trainable = False`, timm's `freeze`): a frozen layer then computes in
  training what it computes in evaluation, and its statistics stay as they were."""
  apply = apply_fn(config, model)
  if not (config.freeze and config.freeze_batch_stats):
    return apply
  stored = layers.stored_statistics(
      lambda module_path: optim.frozen(config, "/".join((*module_path, "scale"))))

  def frozen_apply(*args, **kwargs):
    with nn.intercept_methods(stored):
      return apply(*args, **kwargs)

  return frozen_apply
