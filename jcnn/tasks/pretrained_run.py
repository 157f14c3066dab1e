"""`config.init_from`: a classification run whose weights start a detector's network."""
import jax
import ml_collections

from jcnn import runs
from jcnn.tasks import registry


def load(config: ml_collections.ConfigDict, channels: int) -> dict:
  """The params and dataset info of `config.init_from`'s latest checkpoint, refused
  unless it is a classification run of `config.model` on `channels`-channel images."""
  source = runs.Run.open(config.init_from)
  trained = source.config
  if trained.task != "classification":
    raise ValueError(f"config.init_from={config.init_from!r} is a {trained.task} run; "
                     "the backbone starts from a classification run")
  if trained.model != config.model:
    raise ValueError(f"config.init_from={config.init_from!r} trained model "
                     f"{trained.model!r}; this detector's backbone is {config.model!r}")
  info = source.dataset_info
  if info["image_shape"][-1] != channels:
    raise ValueError(f"config.init_from={config.init_from!r} was trained on "
                     f"{info['image_shape'][-1]}-channel images; {config.dataset} has "
                     f"{channels}")
  restored = registry.restore(source)
  return {"params": jax.device_get(restored.variables["params"]), "info": info,
          "step": restored.step}
