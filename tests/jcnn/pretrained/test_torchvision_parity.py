"""Every torchvision map, proven on weights torchvision itself draws (random, with random
batch-norm statistics and biases): saved with torch.save, imported, and run on the same
picture, each side normalised as its weights expect, the logits, one map per stage and
the auxiliary classifiers' logits equal torchvision's within 1e-4 (max |error| /
max |value|)."""
import numpy as np
import pytest

from jcnn import pretrained
from jcnn.data.stats import IMAGENET_MEAN, IMAGENET_STD
from jcnn.models import googlenet, inception_v3
from tests import pretrained_sources

MODELS = sorted(pretrained.SOURCES["torchvision"])
# torchvision's name where it differs from the zoo's.
TORCHVISION_NAMES = {"alexnet_1tower": "alexnet"}
# Built as torchvision builds them for its released weights (init_weights given only to
# quiet the warning that its default will change).
TORCHVISION_KWARGS = {name: {"transform_input": True, "init_weights": True}
                     for name in ("googlenet", "inception_v3")}
# Input sides other than the zoo's default: the ResNets' smallest that keeps a 2×2 last
# stage; sides that give GoogLeNet and Inception v3 odd grids (a ceil-mode pool's last,
# partial window; an average pool's border) and cost less than 224 and 299.
SIDES = {**{f"resnet{depth}": 64 for depth in (18, 34, 50, 101, 152)},
         "googlenet": 200, "inception_v3": 139}
TOLERANCE = 1e-4


def stage_layers(model: str, net) -> dict[str, str]:
  """{zoo feature: torchvision module} of one map per stage."""
  import torch
  if model.startswith("resnet"):
    return {"stem": "relu", **{f"stage{i}": f"layer{i}" for i in range(1, 5)}}
  if model == "alexnet_1tower":
    return {"pool1": "features.2", "pool2": "features.5", "relu3": "features.7",
            "relu4": "features.9", "pool5": "features.12"}
  if model == "googlenet":
    return {"stage1": "conv1", "stage2": "conv3", "stage3": "inception3b",
            "stage4": "inception4e", "stage5": "inception5b"}
  if model == "inception_v3":
    return {"stage1": "Conv2d_2b_3x3", "stage2": "Conv2d_4a_3x3", "stage3": "Mixed_5d",
            "stage4": "Mixed_6e", "stage5": "Mixed_7c"}
  pools = [name for name, m in net.features.named_children()
           if isinstance(m, torch.nn.MaxPool2d)]
  return {f"pool{i}": f"features.{name}" for i, name in enumerate(pools, start=1)}


def auxiliary_classifiers(model: str) -> dict[str, tuple]:
  """{zoo module: (the zoo's classifier, torchvision's module, its input [h, w, c])}, at
  the grids of the default input (evaluation does not run them)."""
  if model == "googlenet":
    return {"aux_4a": (googlenet.AuxClassifier(1000, "torchvision"), "aux1", (14, 14, 512)),
            "aux_4d": (googlenet.AuxClassifier(1000, "torchvision"), "aux2", (14, 14, 528))}
  if model == "inception_v3":
    return {"AuxLogits": (inception_v3.InceptionAux(1000), "AuxLogits", (17, 17, 768))}
  return {}


def auxiliary_errors(model: str, net, imported) -> dict[str, float]:
  """Each auxiliary classifier's max relative logit error, on a random map."""
  import torch
  errors = {}
  rng = np.random.default_rng(3)
  for name, (zoo, source, shape) in auxiliary_classifiers(model).items():
    x = rng.standard_normal((1, *shape)).astype(np.float32)
    with torch.no_grad():
      expected = getattr(net, source)(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
    variables = {kind: imported.variables[kind][name] for kind in ("params", "batch_stats")}
    actual = zoo.apply(variables, x, train=False)
    errors[name] = pretrained_sources.max_relative_error(np.asarray(actual),
                                                         expected.numpy())
  return errors


@pytest.mark.parametrize("model", MODELS)
def test_a_torchvision_network_ports_with_its_logits_and_stage_maps(model, tmp_path):
  torchvision = pretrained_sources.import_torchvision()
  import torch
  torch.manual_seed(0)
  net = getattr(torchvision.models, TORCHVISION_NAMES.get(model, model))(
      **TORCHVISION_KWARGS.get(model, {}))
  net = pretrained_sources.randomize_torch(net, seed=1)
  path = tmp_path / f"{model}.pth"
  torch.save(net.state_dict(), path)
  imported = pretrained.load("torchvision", path, model)
  path.unlink()  # VGG's are 0.5 GB
  side = SIDES.get(model, imported.input_shape[0])
  pixels = np.random.default_rng(2).uniform(size=(1, side, side, 3)).astype(np.float32)
  x = pretrained_sources.normalise(pixels, IMAGENET_MEAN, IMAGENET_STD)
  expected, maps = pretrained_sources.torch_outputs(net, x, stage_layers(model, net))
  logits, features = pretrained_sources.jcnn_outputs(
      imported, pretrained_sources.normalise(pixels, imported.map.mean, imported.map.std))
  errors = {"logits": pretrained_sources.max_relative_error(logits, expected)}
  errors.update({name: pretrained_sources.max_relative_error(features[name], value)
                 for name, value in maps.items()})
  errors.update(auxiliary_errors(model, net, imported))
  print(f"{model}: max relative logit error {errors['logits']:.2e}")
  assert len(maps) >= 5 and max(errors.values()) < TOLERANCE, errors
