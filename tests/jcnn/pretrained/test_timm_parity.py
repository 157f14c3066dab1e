"""Every timm map, proven on weights timm itself draws (random, with random batch-norm
statistics and biases): saved as timm's checkpoints are (torch.save and safetensors),
imported from each file alike, and run on the same picture, each side normalised as
timm's config for the network says, the logits and one map per stage (timm's
`feature_info`) equal timm's within 1e-4 (max |error| / max |value|)."""
import numpy as np
import pytest
from flax import traverse_util

from jcnn import pretrained
from tests import pretrained_sources

MODELS = sorted(pretrained.SOURCES["timm"])
# Smaller than the default 299, with odd grids (pools' and convolutions' borders) and a
# 3×3 last one.
SIDE = 139
TOLERANCE = 1e-4


@pytest.mark.parametrize("model", MODELS)
def test_a_timm_network_ports_from_either_format_with_its_logits_and_stage_maps(model,
                                                                                  tmp_path):
  timm = pretrained_sources.import_timm()
  import torch
  from safetensors.torch import save_file
  torch.manual_seed(0)
  net = pretrained_sources.randomize_torch(timm.create_model(model), seed=1)
  torch.save(net.state_dict(), tmp_path / f"{model}.pth")
  save_file(net.state_dict(), tmp_path / f"{model}.safetensors")
  imported = pretrained.load("timm", tmp_path / f"{model}.pth", model)
  from_safetensors = pretrained.load("timm", tmp_path / f"{model}.safetensors", model)
  other = traverse_util.flatten_dict(from_safetensors.variables)
  for key, value in traverse_util.flatten_dict(imported.variables).items():
    np.testing.assert_array_equal(other.pop(key), value, "/".join(key))
  assert not other
  pixels = np.random.default_rng(2).uniform(size=(1, SIDE, SIDE, 3)).astype(np.float32)
  config = net.pretrained_cfg
  stages = {f"stage{i}": info["module"] for i, info in enumerate(net.feature_info, start=1)}
  expected, maps = pretrained_sources.torch_outputs(
      net, pretrained_sources.normalise(pixels, config["mean"], config["std"]), stages)
  logits, features = pretrained_sources.jcnn_outputs(
      imported, pretrained_sources.normalise(pixels, imported.map.mean, imported.map.std))
  errors = {"logits": pretrained_sources.max_relative_error(logits, expected)}
  errors.update({name: pretrained_sources.max_relative_error(features[name], value)
                 for name, value in maps.items()})
  print(f"{model}: max relative logit error {errors['logits']:.2e}")
  assert len(maps) == 5 and max(errors.values()) < TOLERANCE, errors
