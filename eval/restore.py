"""Rebuilds a trained model from its workdir: config, dataset info, checkpoint."""
import dataclasses
import pathlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
from jax.sharding import Mesh

from jcnn import checkpoint, experiment, parallel


@dataclasses.dataclass
class RestoredRun:
  config: ml_collections.ConfigDict
  info: dict            # image_shape, class_names, mean, std (see jcnn.experiment)
  model: nn.Module
  step: int
  variables: dict
  mesh: Mesh

  @property
  def apply(self):
    """`model.apply` in the run's compute dtype."""
    return experiment.apply_fn(self.config, self.model)


def abstract_variables(model: nn.Module, image_shape, ema: bool, mesh: Mesh) -> dict:
  """Shapes, dtypes and shardings of a checkpoint's model item, with no compute."""
  shapes = jax.eval_shape(
      lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, *image_shape)), train=False))
  sharding = parallel.replicated(mesh)
  as_target = lambda t: jax.tree.map(
      lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding), t)
  target = {"params": as_target(shapes["params"]),
            "batch_stats": as_target(shapes.get("batch_stats", {}))}
  if ema:
    target["ema_params"] = target["params"]
  return target


def restore(workdir: str | pathlib.Path, step: int | None = None) -> RestoredRun:
  """Restores the checkpoint at `step` (latest when None) of the run in `workdir`."""
  config, info = experiment.load_run(workdir)
  mesh = parallel.make_mesh(config.get("num_devices", 0))
  model = experiment.build_model(config, len(info["class_names"]))
  target = abstract_variables(model, info["image_shape"], config.ema_decay > 0, mesh)
  step, variables = checkpoint.restore_variables(workdir, target, step)
  return RestoredRun(config, info, model, step, variables, mesh)
