"""torchvision's ImageNet classifiers -> the zoo: AlexNet, VGG-11/13/16/19 (± BN),
ResNet-18/34/50/101/152, GoogLeNet, Inception v3 (`MAPS`, by zoo name).

The layers correspond one to one (each zoo model's parameter count is torchvision's), in
the same padding, pooling and stride placement (ResNet's stride on the bottleneck's 3×3,
"v1.5"); torchvision's batch norms divide by sqrt(var + 1e-5), as the zoo's do, except
GoogLeNet's and Inception v3's (1e-3, as the zoo's Inception units). Those two take
`layout="torchvision"`, the zoo's form of torchvision's code. Inputs are RGB in [0, 1]
normalised with ImageNet's mean and std, as torchvision's weights expect; GoogLeNet's
and Inception v3's were ported from TensorFlow and expect [-1, 1], which torchvision's
`transform_input` makes of ImageNet-normalised inputs.
"""
import functools

from jcnn import models
from jcnn.data.stats import IMAGENET_MEAN, IMAGENET_STD, INCEPTION_MEAN, INCEPTION_STD
from jcnn.models import googlenet, resnet, vgg
from jcnn.models.convolutionalize import HEAD
from jcnn.pretrained.convert import (INCEPTION_V3_UNITS, Map, Tensors, Variables, dense,
                                     dense_after_flatten, hwio)

# nn.BatchNorm2d's default, which every torchvision classifier keeps but the Inceptions.
BN_EPSILON = 1e-5
# BasicConv2d's, in GoogLeNet and Inception v3 (TF-slim's).
INCEPTION_BN_EPSILON = 1e-3


def conv(t: Tensors, v: Variables, src: str, dst: str, bias: bool = True) -> None:
  """Convolution `src` ("features.0") as the zoo's `dst` ("conv1_1")."""
  kernel = t.take(f"{src}.weight")
  v.set(f"params/{dst}/kernel", hwio(kernel), f"{src}.weight", kernel.shape)
  if bias:
    v.set(f"params/{dst}/bias", t.take(f"{src}.bias"), f"{src}.bias")


def linear(t: Tensors, v: Variables, src: str, dst: str, window: int = 0) -> None:
  """Linear layer `src` as the zoo's dense `dst`; `window`: it reads a flattened
  window×window map."""
  weight = t.take(f"{src}.weight")
  kernel = dense_after_flatten(weight, window) if window else dense(weight)
  v.set(f"params/{dst}/kernel", kernel, f"{src}.weight", weight.shape)
  v.set(f"params/{dst}/bias", t.take(f"{src}.bias"), f"{src}.bias")


def batch_norm(t: Tensors, v: Variables, src: str, dst: str,
               epsilon: float = BN_EPSILON) -> None:
  """BatchNorm2d `src` as the zoo's `dst` (its step counter is dropped)."""
  if t.has(f"{src}.num_batches_tracked"):
    t.take(f"{src}.num_batches_tracked")
  v.batch_norm(dst, scale=t.take(f"{src}.weight"), bias=t.take(f"{src}.bias"),
               mean=t.take(f"{src}.running_mean"), var=t.take(f"{src}.running_var"),
               epsilon=epsilon, origin=src)


def conv_unit(t: Tensors, v: Variables, src: str, dst: str,
              epsilon: float = INCEPTION_BN_EPSILON) -> None:
  """A bias-free convolution and its batch norm, `src`.conv and `src`.bn (torchvision's
  BasicConv2d, timm's ConvNormAct), as the zoo's ConvUnit `dst`."""
  conv(t, v, f"{src}.conv", f"{dst}/conv", bias=False)
  batch_norm(t, v, f"{src}.bn", f"{dst}/bn", epsilon)


def _alexnet(t: Tensors, v: Variables) -> None:
  for index, name in ((0, "conv1"), (3, "conv2"), (6, "conv3"), (8, "conv4"), (10, "conv5")):
    conv(t, v, f"features.{index}", name)
  window = models.create("alexnet_1tower").head_window
  linear(t, v, "classifier.1", f"{HEAD}/fc6", window)
  linear(t, v, "classifier.4", f"{HEAD}/fc7")
  linear(t, v, "classifier.6", f"{HEAD}/fc8")


def _vgg(name: str, t: Tensors, v: Variables) -> None:
  net = models.create(name)
  index = 0  # torchvision's nn.Sequential: conv, [bn], relu per layer; a pool per stage
  for stage, layers in enumerate(vgg.CONFIGS[net.config], start=1):
    for i in range(1, len(layers) + 1):
      conv(t, v, f"features.{index}", f"conv{stage}_{i}")
      if net.batch_norm:
        batch_norm(t, v, f"features.{index + 1}", f"bn{stage}_{i}")
      index += 3 if net.batch_norm else 2
    index += 1
  linear(t, v, "classifier.0", f"{HEAD}/fc6", net.head_window)
  linear(t, v, "classifier.3", f"{HEAD}/fc7")
  linear(t, v, "classifier.6", f"{HEAD}/fc8")


def _resnet(name: str, t: Tensors, v: Variables) -> None:
  net = models.create(name)
  bottleneck = net.block_cls is resnet.BottleneckBlock
  conv(t, v, "conv1", "conv1", bias=False)
  batch_norm(t, v, "bn1", "bn1")
  for i, size in enumerate(net.stage_sizes):
    for j in range(size):
      src, dst = f"layer{i + 1}.{j}", f"stage{i + 1}_block{j + 1}"
      for k in range(1, 4 if bottleneck else 3):
        conv(t, v, f"{src}.conv{k}", f"{dst}/conv{k}", bias=False)
        batch_norm(t, v, f"{src}.bn{k}", f"{dst}/bn{k}")
      if j == 0 and (i > 0 or bottleneck):  # option B: where the shape changes
        conv(t, v, f"{src}.downsample.0", f"{dst}/shortcut_conv", bias=False)
        batch_norm(t, v, f"{src}.downsample.1", f"{dst}/shortcut_bn")
  linear(t, v, "fc", "fc")


# torchvision's Inception module: its branches' modules as the zoo's.
_GOOGLENET_BRANCHES = (("branch1", "1x1"), ("branch2.0", "3x3_reduce"), ("branch2.1", "3x3"),
                       ("branch3.0", "5x5_reduce"), ("branch3.1", "5x5"),
                       ("branch4.1", "pool_proj"))


def _googlenet(t: Tensors, v: Variables) -> None:
  for src, dst in (("conv1", "conv1"), ("conv2", "conv2_reduce"), ("conv3", "conv2")):
    conv_unit(t, v, src, dst)
  for name in googlenet.TABLE_1:
    for src, dst in _GOOGLENET_BRANCHES:
      conv_unit(t, v, f"inception{name}.{src}", f"inception_{name}/{dst}")
  for src, dst in (("aux1", "aux_4a"), ("aux2", "aux_4d")):
    conv_unit(t, v, f"{src}.conv", f"{dst}/conv")
    linear(t, v, f"{src}.fc1", f"{dst}/fc", window=4)
    linear(t, v, f"{src}.fc2", f"{dst}/classifier")
  linear(t, v, "fc", "fc")


def _inception_v3(t: Tensors, v: Variables) -> None:
  for unit in (*INCEPTION_V3_UNITS, "AuxLogits/conv0", "AuxLogits/conv1"):
    conv_unit(t, v, unit.replace("/", "."), unit)  # torchvision's names are the zoo's
  linear(t, v, "AuxLogits.fc", "AuxLogits/fc")
  linear(t, v, "fc", "fc")


# GoogLeNet's and Inception v3's weights are used with transform_input=True.
_TRANSFORM_INPUT = ("torchvision's transform_input, on with its released weights, maps "
                    "ImageNet-normalised inputs to [-1, 1]: here that is the run's "
                    "normalisation (mean and std 0.5) instead; the auxiliary classifiers "
                    "are ported too (they run in training only)")


def _map(source: str, model: str, build, mean=IMAGENET_MEAN, std=IMAGENET_STD,
         notes: str = "", **kwargs) -> Map:
  return Map(f"torchvision {source}", model, build, mean, std, kwargs=tuple(kwargs.items()),
             notes=notes)


MAPS: dict[str, Map] = {
    "alexnet_1tower": _map("alexnet", "alexnet_1tower", _alexnet),
    **{name: _map(name, name, functools.partial(_vgg, name))
       for name in ("vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
                    "vgg19_bn")},
    **{name: _map(name, name, functools.partial(_resnet, name))
       for name in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")},
    "googlenet": _map("googlenet", "googlenet", _googlenet, INCEPTION_MEAN, INCEPTION_STD,
                      _TRANSFORM_INPUT, layout="torchvision"),
    "inception_v3": _map("inception_v3", "inception_v3", _inception_v3, INCEPTION_MEAN,
                         INCEPTION_STD, _TRANSFORM_INPUT, layout="torchvision"),
}
