"""ResNet family (He et al. 2016): the CIFAR-10 nets of Section 4.2, the ImageNet nets of
Table 1, and the plain nets (no shortcuts) the paper compares them with.

One module, `ResNet`, builds all of them from a stem, stages of basic (two 3×3) or
bottleneck (1×1, 3×3, 1×1) blocks, global average pooling and a dense classifier.
Shortcut options follow Section 3.3: "A" identity with zero-padded extra channels (no
parameters), "B" 1×1 projection + BN only where the shape changes, "C" projections on
every shortcut, None no shortcut at all (the plain net).
"""
import functools
from typing import ClassVar, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jcnn import nn as jnn
from jcnn.data.stats import DATASET_STATS, IMAGENET_MEAN, IMAGENET_STD
from jcnn.models.features import record
from jcnn.models.layers import BatchNorm, Conv
from jcnn.models.registry import Backbone, register

SHORTCUTS = ("A", "B", "C", None)
STEMS = ("imagenet", "cifar")

# He et al. 2015 initialisation, in the fan-out form fb.resnet.torch and torchvision use.
_conv_init = nn.initializers.variance_scaling(2.0, "fan_out", "normal")


def _conv(features: int, kernel: int, strides: int, name: str) -> Conv:
  """A bias-free k×k convolution padded k // 2 on every side (Caffe's and PyTorch's
  padding, so published weights port as they are; Flax's "SAME" pads stride-2 convs
  on one side only)."""
  pad = kernel // 2
  return Conv(features, (kernel, kernel), strides=strides, padding=((pad, pad), (pad, pad)),
                 use_bias=False, kernel_init=_conv_init, name=name)


def _batch_norm(train: bool, name: str, zero_scale: bool = False) -> BatchNorm:
  return BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                      scale_init=nn.initializers.zeros if zero_scale else nn.initializers.ones,
                      name=name)


def pad_shortcut(x: jax.Array, features: int, strides: int) -> jax.Array:
  """Option A: the identity, subsampled by `strides`, with zero channels appended.

  Subsampling keeps the pixels a stride-2 1×1 convolution would read (rows and columns
  0, 2, 4, ...); the zeros go after the input's channels, as in fb.resnet.torch.

  Args:
    x: [batch, height, width, in_channels].
    features: output channels, >= in_channels.
    strides: spatial subsampling factor.

  Returns:
    [batch, ceil(height / strides), ceil(width / strides), features].
  """
  extra = features - x.shape[-1]
  if extra < 0:
    raise ValueError(f"option A shortcut cannot reduce channels: {x.shape[-1]} -> {features}")
  x = x[:, ::strides, ::strides, :]
  return jnp.pad(x, ((0, 0), (0, 0), (0, 0), (0, extra)))


def _shortcut(block: nn.Module, x: jax.Array, features: int, train: bool) -> jax.Array:
  """The block's shortcut path under its option (called from the block's compact method)."""
  changes = x.shape[-1] != features or block.strides != 1
  if block.shortcut == "C" or (block.shortcut == "B" and changes):
    x = _conv(features, 1, block.strides, "shortcut_conv")(x)
    return _batch_norm(train, "shortcut_bn")(x)
  if changes:
    return pad_shortcut(x, features, block.strides)
  return x


class BasicBlock(nn.Module):
  """Two 3×3 convolutions (Fig. 5 left); BN after each, ReLU after the addition.

  Attributes:
    features: channels of both convolutions and of the output.
    strides: stride of the first convolution (2 where a stage starts).
    shortcut: "A", "B", "C", or None for the plain block.
    zero_init_residual: start the last BN's scale at 0, so the block starts as the
      identity (Goyal et al. 2017); off in the paper.
  """
  features: int
  strides: int = 1
  shortcut: str | None = "A"
  zero_init_residual: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, height, width, in] -> [batch, height / strides, width / strides, features]."""
    y = _conv(self.features, 3, self.strides, "conv1")(x)
    y = jax.nn.relu(_batch_norm(train, "bn1")(y))
    y = _conv(self.features, 3, 1, "conv2")(y)
    y = _batch_norm(train, "bn2", self.zero_init_residual)(y)
    if self.shortcut is not None:
      y = y + _shortcut(self, x, self.features, train)
    return jax.nn.relu(y)


class BottleneckBlock(nn.Module):
  """1×1 reduce, 3×3, 1×1 expand to 4 × `features` (Fig. 5 right).

  Attributes:
    features: channels of the 1×1 reduction and the 3×3 convolution; the block outputs
      `4 * features`.
    strides: 2 where a stage starts.
    shortcut: "A", "B", "C", or None for the plain block.
    zero_init_residual: start the last BN's scale at 0 (off in the paper).
    stride_in_1x1: put the stride on the first 1×1 convolution, as the paper's original
      models do; False puts it on the 3×3 (torchvision's "ResNet v1.5"), which reads every
      input pixel (about 0.5 % more top-1 on ImageNet, NVIDIA DeepLearningExamples).
  """
  features: int
  strides: int = 1
  shortcut: str | None = "B"
  zero_init_residual: bool = False
  stride_in_1x1: bool = False
  expansion: ClassVar[int] = 4

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, height, width, in] -> [batch, height / strides, width / strides, 4 features]."""
    stride_1x1, stride_3x3 = (self.strides, 1) if self.stride_in_1x1 else (1, self.strides)
    out = self.features * self.expansion
    y = _conv(self.features, 1, stride_1x1, "conv1")(x)
    y = jax.nn.relu(_batch_norm(train, "bn1")(y))
    y = _conv(self.features, 3, stride_3x3, "conv2")(y)
    y = jax.nn.relu(_batch_norm(train, "bn2")(y))
    y = _conv(out, 1, 1, "conv3")(y)
    y = _batch_norm(train, "bn3", self.zero_init_residual)(y)
    if self.shortcut is not None:
      y = y + _shortcut(self, x, out, train)
    return jax.nn.relu(y)


class ResNet(nn.Module):
  """A residual (or plain) network: stem, stages of blocks, global pooling, dense.

  Stage i has `stage_sizes[i]` blocks of width `widths[i]`; every stage after the first
  halves the resolution in its first block. Features recorded: "stem" (after the stem's
  ReLU: stride 1 for CIFAR, 2 for ImageNet) and "stage1", "stage2", ... (each stage's
  output).

  Attributes:
    stage_sizes: blocks per stage ((3, 4, 6, 3) for ResNet-50; (n, n, n) for CIFAR).
    block_cls: BasicBlock or BottleneckBlock.
    widths: block widths per stage; the stem has `widths[0]` channels.
    stem: "imagenet" (7×7/2 conv, BN, ReLU, 3×3/2 max pool) or "cifar" (3×3 conv,
      BN, ReLU).
    num_classes: outputs of the classifier.
    shortcut: "A", "B", "C" (Section 3.3), or None for the plain net.
    stride_in_1x1: bottleneck blocks only: stride on the first 1×1 (the paper) instead
      of the 3×3 (torchvision).
    zero_init_residual: zero the last BN scale of every residual branch.
  """
  stage_sizes: Sequence[int]
  block_cls: type[nn.Module]
  widths: Sequence[int] = (64, 128, 256, 512)
  stem: str = "imagenet"
  num_classes: int = 1000
  shortcut: str | None = "B"
  stride_in_1x1: bool = False
  zero_init_residual: bool = False

  def _check_fields(self):
    if self.shortcut not in SHORTCUTS:
      raise ValueError(f"shortcut must be one of {SHORTCUTS}, got {self.shortcut!r}")
    if self.stem not in STEMS:
      raise ValueError(f"stem must be one of {STEMS}, got {self.stem!r}")
    if len(self.stage_sizes) != len(self.widths):
      raise ValueError(f"stage_sizes {tuple(self.stage_sizes)} and widths "
                       f"{tuple(self.widths)} must have the same length")
    if self.block_cls not in (BasicBlock, BottleneckBlock):
      raise ValueError(f"block_cls must be BasicBlock or BottleneckBlock, got {self.block_cls}")
    if self.stride_in_1x1 and self.block_cls is not BottleneckBlock:
      raise ValueError("stride_in_1x1 applies to bottleneck blocks only")
    if self.zero_init_residual and self.shortcut is None:
      raise ValueError("zero_init_residual would zero every block of a plain net "
                       "(shortcut=None) and cut the signal")

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, height, width, channels] -> logits [batch, num_classes]."""
    self._check_fields()
    if x.ndim != 4:
      raise ValueError(f"ResNet expects inputs [batch, height, width, channels], "
                       f"got {tuple(x.shape)}")
    if self.stem == "imagenet":
      x = _conv(self.widths[0], 7, 2, "conv1")(x)
    else:
      x = _conv(self.widths[0], 3, 1, "conv1")(x)
    x = record(self, "stem", jax.nn.relu(_batch_norm(train, "bn1")(x)))
    if self.stem == "imagenet":
      x = jnn.max_pool(x, window=3, stride=2, padding=1)

    block_kwargs = dict(shortcut=self.shortcut, zero_init_residual=self.zero_init_residual)
    if self.block_cls is BottleneckBlock:
      block_kwargs["stride_in_1x1"] = self.stride_in_1x1
    for i, (size, width) in enumerate(zip(self.stage_sizes, self.widths)):
      for j in range(size):
        strides = 2 if i > 0 and j == 0 else 1
        x = self.block_cls(width, strides, name=f"stage{i + 1}_block{j + 1}",
                           **block_kwargs)(x, train)
      x = record(self, f"stage{i + 1}", x)
    x = jnn.global_avg_pool(x)
    return nn.Dense(self.num_classes, name="fc")(x)


# Section 4.2: 6n + 2 layers, option A.
CifarResNet = functools.partial(ResNet, block_cls=BasicBlock, widths=(16, 32, 64),
                                stem="cifar", num_classes=10, shortcut="A")
# Table 1: option B.
ImageNetResNet = functools.partial(ResNet, widths=(64, 128, 256, 512), stem="imagenet",
                                   num_classes=1000, shortcut="B")

ResNet18 = functools.partial(ImageNetResNet, stage_sizes=(2, 2, 2, 2), block_cls=BasicBlock)
ResNet34 = functools.partial(ImageNetResNet, stage_sizes=(3, 4, 6, 3), block_cls=BasicBlock)
ResNet50 = functools.partial(ImageNetResNet, stage_sizes=(3, 4, 6, 3), block_cls=BottleneckBlock)
ResNet101 = functools.partial(ImageNetResNet, stage_sizes=(3, 4, 23, 3),
                              block_cls=BottleneckBlock)
ResNet152 = functools.partial(ImageNetResNet, stage_sizes=(3, 8, 36, 3),
                              block_cls=BottleneckBlock)
Plain18 = functools.partial(ResNet18, shortcut=None)
Plain34 = functools.partial(ResNet34, shortcut=None)


def cifar_resnet(depth: int, **overrides) -> ResNet:
  """The 6n + 2 layer CIFAR net of Section 4.2 (n = (depth - 2) / 6 blocks per stage)."""
  if depth < 8 or (depth - 2) % 6:
    raise ValueError(f"CIFAR ResNet depth must be 6n + 2 with n >= 1, got {depth}")
  return CifarResNet(stage_sizes=((depth - 2) // 6,) * 3, **overrides)


_PAPER = "He et al. 2016, Deep Residual Learning for Image Recognition (CVPR)"
_CIFAR_MEAN, _CIFAR_STD = DATASET_STATS["cifar10"]
_CIFAR_CHOICES = ("He init (fan-out, normal); the paper subtracts the per-pixel mean, jcnn "
                  "normalises per channel")
_CIFAR_OPTION_A = ("option A shortcuts: stride-2 subsampling, zero channels appended after "
                   "the input's (fb.resnet.torch); " + _CIFAR_CHOICES)
_UNTRAINED_1202 = ("; an untrained resnet1202 in eval mode (train=False) overflows to inf/nan: "
                   "each of its 600 blocks grows the signal while BN's running statistics are "
                   "still mean 0, variance 1")

# depth: (parameters, Table 6's parameters, Table 6's CIFAR-10 test error %).
_CIFAR = {20: (269_722, "0.27M", 8.75), 32: (464_154, "0.46M", 7.51),
          44: (658_586, "0.66M", 7.17), 56: (853_018, "0.85M", 6.97),
          110: (1_727_962, "1.7M", 6.43), 1202: (19_421_274, "19.4M", 7.93)}
for _depth, (_count, _rounded, _error) in _CIFAR.items():
  register(f"resnet{_depth}", input_shape=(32, 32, 3), num_classes=10, paper=_PAPER,
           num_params=_count,
           params_source=f"akamaster/pytorch_resnet_cifar10 README ({_count:,}); paper "
                         f"Table 6: {_rounded}",
           top1=round(1 - _error / 100, 4),
           top1_source="He et al. 2016 Table 6, CIFAR-10 test"
                       + (" (best of 5 runs; mean error 6.61 ± 0.16 %)" if _depth == 110 else ""),
           min_input_size=32, mean=_CIFAR_MEAN, std=_CIFAR_STD,
           notes=_CIFAR_OPTION_A + (_UNTRAINED_1202 if _depth == 1202 else "")
           )(functools.partial(cifar_resnet, _depth))
for _depth in (20, 32, 44, 56, 110):
  register(f"plain{_depth}", input_shape=(32, 32, 3), num_classes=10, paper=_PAPER,
           num_params=_CIFAR[_depth][0],
           params_source=f"resnet{_depth}'s count (akamaster/pytorch_resnet_cifar10 README): "
                         "the same layers, and option A shortcuts have no parameters",
           min_input_size=32, mean=_CIFAR_MEAN, std=_CIFAR_STD,
           notes="no shortcuts; the paper gives its errors only as curves (Fig. 6 left); "
                 + _CIFAR_CHOICES)(functools.partial(cifar_resnet, _depth, shortcut=None))

_IMAGENET_CHOICES = ("option B shortcuts (1×1 projection + BN where the shape changes; "
                     "shortcut='A' or 'C' for the others); convolutions padded symmetrically "
                     "and He init (fan-out, normal) as in torchvision, whose weights port as "
                     "they are")
_STRIDE_CHOICE = ("; stride on the bottleneck's 3×3 conv as torchvision does ('ResNet v1.5'; "
                  "macs and top1 are for it): stride_in_1x1=True gives the paper's original, "
                  "on the first 1×1")
# name: (constructor, torchvision parameters, torchvision "GFLOPS" (multiply-accumulates),
#        torchvision IMAGENET1K_V1 top-1 %).
_IMAGENET = {
    "resnet18": (ResNet18, 11_689_512, 1.81, 69.758),
    "resnet34": (ResNet34, 21_797_672, 3.66, 73.314),
    "resnet50": (ResNet50, 25_557_032, 4.09, 76.13),
    "resnet101": (ResNet101, 44_549_160, 7.80, 77.374),
    "resnet152": (ResNet152, 60_192_808, 11.51, 78.312),
}
# The detectors' backbones: ResNet-50 cut after stage 3 (stride 16), an MLP box head.
_BACKBONES = {"resnet50": Backbone("stage3", 16, (1024, 1024))}
for _name, (_constructor, _count, _gmacs, _top1) in _IMAGENET.items():
  _bottleneck = _constructor.keywords["block_cls"] is BottleneckBlock
  register(_name, input_shape=(224, 224, 3), num_classes=1000, paper=_PAPER,
           backbone=_BACKBONES.get(_name),
           num_params=_count, params_source="torchvision.models",
           top1=round(_top1 / 100, 5),
           top1_source="torchvision.models IMAGENET1K_V1 weights (resize 256, center "
                       "crop 224)",
           macs=round(_gmacs * 1e9), min_input_size=32, mean=IMAGENET_MEAN, std=IMAGENET_STD,
           notes=_IMAGENET_CHOICES + (_STRIDE_CHOICE if _bottleneck else "")
           )(_constructor)

# ResNet-18/34's three option-B projections (1×1 conv + BN scale and offset at the start
# of stages 2-4): 64·128 + 2·128 + 128·256 + 2·256 + 256·512 + 2·512 = 173,824.
_PROJECTIONS = 173_824
for _name, _constructor, _residual, _error, _gmacs in (
    ("plain18", Plain18, "resnet18", 27.94, 1.8), ("plain34", Plain34, "resnet34", 28.54, 3.6)):
  register(_name, input_shape=(224, 224, 3), num_classes=1000, paper=_PAPER,
           num_params=_IMAGENET[_residual][1] - _PROJECTIONS,
           params_source=f"no published count; torchvision {_residual} "
                         f"({_IMAGENET[_residual][1]:,}) minus its three option-B "
                         f"projections ({_PROJECTIONS:,})",
           top1=round(1 - _error / 100, 4),
           top1_source="He et al. 2016 Table 2 (ImageNet val, 10-crop testing)",
           macs=round(_gmacs * 1e9), min_input_size=32, mean=IMAGENET_MEAN, std=IMAGENET_STD,
           notes="no shortcuts; macs: the paper's Table 1 for this depth; convolutions "
                 "padded symmetrically as in torchvision")(_constructor)
