"""VGG (Simonyan & Zisserman 2015): the configurations A-E of Table 1, and the same with
batch normalisation after every convolution (torchvision's vgg*_bn).

Five stages of stride-1 convolutions padded to keep the size, each followed by a 2×2/2
max pool (224 -> 7), then FC-4096, FC-4096, FC-num_classes with dropout 0.5 on the
hidden layers. `fully_convolutional=True` (or `jcnn.models.convolutionalize`) turns the
head into convolutions: the paper's dense evaluation (Sec. 3.2).
"""
import functools
from typing import ClassVar

import flax.linen as nn
import jax

from jcnn import nn as jnn
from jcnn.data.stats import IMAGENET_MEAN, IMAGENET_STD
from jcnn.models.alexnet import lrn as alexnet_lrn
from jcnn.models.convolutionalize import HEAD, ClassifierHead, check_input_size
from jcnn.models.features import record
from jcnn.models.layers import BatchNorm, Conv
from jcnn.models.registry import Backbone, register



def _3(channels: int, n: int) -> tuple[tuple[int, int], ...]:
  return ((3, channels),) * n


# Table 1, one column per configuration: per stage, the (kernel size, channels) of each
# convolution — the paper's "conv<kernel>-<channels>".
CONFIGS: dict[str, tuple[tuple[tuple[int, int], ...], ...]] = {
    "A": (_3(64, 1), _3(128, 1), _3(256, 2), _3(512, 2), _3(512, 2)),
    "B": (_3(64, 2), _3(128, 2), _3(256, 2), _3(512, 2), _3(512, 2)),
    "C": (_3(64, 2), _3(128, 2), _3(256, 2) + ((1, 256),), _3(512, 2) + ((1, 512),),
          _3(512, 2) + ((1, 512),)),
    "D": (_3(64, 2), _3(128, 2), _3(256, 3), _3(512, 3), _3(512, 3)),
    "E": (_3(64, 2), _3(128, 2), _3(256, 4), _3(512, 4), _3(512, 4)),
}

# torchvision's VGG initialisation: He normal (fan-out) convolutions, N(0, 0.01) dense
# kernels, zero biases (the paper initialised A from N(0, 0.01) and deeper nets from A,
# then notes Glorot initialisation works without pre-training, Sec. 3.1).
CONV_INIT = nn.initializers.variance_scaling(2.0, "fan_out", "normal")
DENSE_INIT = nn.initializers.normal(0.01)


class VGG(nn.Module):
  """A VGG network on 224×224×3 inputs.

  Attributes:
    config: a column of Table 1, "A" to "E".
    num_classes: output classes.
    lrn: local response normalisation after the first convolution (configuration
      A-LRN), with AlexNet's constants as the paper says.
    batch_norm: BatchNorm after every convolution, before its ReLU (torchvision's
      vgg*_bn; the convolutions keep their biases).
    dropout_rate: dropout on FC6 and FC7.
    fully_convolutional: the head as convolutions (inputs of at least 224×224 give a
      score map), see `jcnn.models.convolutionalize`.
  """
  config: str = "D"
  num_classes: int = 1000
  lrn: bool = False
  batch_norm: bool = False
  dropout_rate: float = 0.5
  fully_convolutional: bool = False
  head_window: ClassVar[int] = 7

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 224, 224, 3] -> logits [batch, num_classes]."""
    if self.config not in CONFIGS:
      raise ValueError(f"unknown VGG config {self.config!r}; choose from {sorted(CONFIGS)}")
    check_input_size("vgg", x, (224, 224, 3), at_least=self.fully_convolutional)
    for stage, layers in enumerate(CONFIGS[self.config], start=1):
      for i, (kernel, channels) in enumerate(layers, start=1):
        x = Conv(channels, (kernel, kernel), padding=kernel // 2, kernel_init=CONV_INIT,
                    name=f"conv{stage}_{i}")(x)
        if self.batch_norm:
          x = BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                           name=f"bn{stage}_{i}")(x)
        x = record(self, f"relu{stage}_{i}", jax.nn.relu(x))
        if self.lrn and (stage, i) == (1, 1):
          x = alexnet_lrn(x)
      x = record(self, f"pool{stage}", jnn.max_pool(x, 2, 2))
    return ClassifierHead(self.num_classes, self.head_window, dropout_rate=self.dropout_rate,
                          fully_convolutional=self.fully_convolutional,
                          kernel_init=DENSE_INIT, name=HEAD)(x, train)


_PAPER = ("Simonyan & Zisserman 2015, Very Deep Convolutional Networks for Large-Scale "
          "Image Recognition")
_TABLE3 = "Simonyan & Zisserman 2015, Table 3 (train S=256, test Q=256, val top-1 error {}%)"
# name: (config, lrn, batch_norm, params, params source, top-1, top-1 source, GMACs)
_MODELS = {
    "vgg11": ("A", False, False, 132_863_336, "torchvision VGG11_Weights.IMAGENET1K_V1",
              0.704, _TABLE3.format(29.6), 7.61),
    "vgg11_lrn": ("A", True, False, 132_863_336,
                  "vgg11's (torchvision); LRN has no parameters (paper Table 2: 133M)",
                  0.703, _TABLE3.format(29.7), None),
    "vgg13": ("B", False, False, 133_047_848, "torchvision VGG13_Weights.IMAGENET1K_V1",
              0.713, _TABLE3.format(28.7), 11.31),
    "vgg16_c": ("C", False, False, 133_638_952,
                "computed: vgg16's 138,357,544 less 4,718,592 for 1×1 instead of 3×3 "
                "kernels in conv3_3, conv4_3, conv5_3 (paper Table 2: 134M)",
                0.719, _TABLE3.format(28.1), None),
    "vgg16": ("D", False, False, 138_357_544, "torchvision VGG16_Weights.IMAGENET1K_V1",
              0.730, _TABLE3.format(27.0), 15.47),
    "vgg19": ("E", False, False, 143_667_240, "torchvision VGG19_Weights.IMAGENET1K_V1",
              0.727, _TABLE3.format(27.3), 19.63),
    "vgg11_bn": ("A", False, True, 132_868_840, "torchvision VGG11_BN_Weights.IMAGENET1K_V1",
                 0.70370, "torchvision VGG11_BN_Weights.IMAGENET1K_V1", 7.61),
    "vgg11_lrn_bn": ("A", True, True, 132_868_840,
                     "vgg11_bn's (torchvision); LRN has no parameters", None, "", None),
    "vgg13_bn": ("B", False, True, 133_053_736, "torchvision VGG13_BN_Weights.IMAGENET1K_V1",
                 0.71586, "torchvision VGG13_BN_Weights.IMAGENET1K_V1", 11.31),
    "vgg16_c_bn": ("C", False, True, 133_647_400,
                   "computed: vgg16_c's 133,638,952 plus 2 × 4,224 BN scales and biases",
                   None, "", None),
    "vgg16_bn": ("D", False, True, 138_365_992, "torchvision VGG16_BN_Weights.IMAGENET1K_V1",
                 0.7336, "torchvision VGG16_BN_Weights.IMAGENET1K_V1", 15.47),
    "vgg19_bn": ("E", False, True, 143_678_248, "torchvision VGG19_BN_Weights.IMAGENET1K_V1",
                 0.74218, "torchvision VGG19_BN_Weights.IMAGENET1K_V1", 19.63),
}

# The detectors' backbones (Faster R-CNN): py-faster-rcnn's VGG-16, conv5_3 at stride 16,
# 7×7 RoI pooling into the classifier's own fc6/fc7.
_BACKBONES = {"vgg16": Backbone("relu5_3", 16, (4096, 4096), head_from_model=True, roi_size=7,
                                kwargs=(("fully_convolutional", True),))}

for _name, (_config, _lrn, _bn, _count, _source, _top1, _top1_source, _gmacs) in _MODELS.items():
  register(_name, input_shape=(224, 224, 3), num_classes=1000, paper=_PAPER,
           num_params=_count, params_source=_source, top1=_top1, top1_source=_top1_source,
           macs=None if _gmacs is None else round(_gmacs * 1e9),
           mean=IMAGENET_MEAN, std=IMAGENET_STD, backbone=_BACKBONES.get(_name),
           notes=(f"Table 1 configuration {_config}{'-LRN' if _lrn else ''}"
                  f"{', BatchNorm after every convolution (torchvision vgg*_bn)' if _bn else ''}"
                  "; fixed 224×224 input (no torchvision adaptive pool: the dense head "
                  "reads the 7×7 map; other sizes through fully_convolutional); "
                  "torchvision's initialisation"
                  + ("; macs: torchvision's 'GFLOPS' (multiply-accumulates)" if _gmacs else "")
                  ))(functools.partial(VGG, config=_config, lrn=_lrn, batch_norm=_bn))
