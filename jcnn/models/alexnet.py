"""AlexNet (Krizhevsky et al. 2012) as published and as torchvision has it, and ZFNet
(Zeiler & Fergus 2013), AlexNet with its first two layers retuned.

All three end in FC6-FC7-FC8 (`ClassifierHead`); `fully_convolutional=True` (or
`jcnn.models.convolutionalize`) turns that head into convolutions for dense evaluation.
"""
import functools
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jcnn import nn as jnn
from jcnn.data.stats import IMAGENET_MEAN, IMAGENET_STD
from jcnn.models.convolutionalize import HEAD, ClassifierHead, check_input_size
from jcnn.models.features import record
from jcnn.models.layers import Conv
from jcnn.models.registry import Backbone, register


def lrn(x: jax.Array) -> jax.Array:
  """AlexNet's response normalisation, Sec. 3.3: n=5, k=2, alpha=1e-4, beta=0.75.

  The paper's alpha multiplies the plain sum of squares over the 5 channels (Caffe's
  LRN layer divides its alpha by n, so Caffe's 1e-4 is 2e-5 here).
  """
  return jnn.local_response_norm(x, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)


def adaptive_avg_pool(x: jax.Array, size: int) -> jax.Array:
  """torchvision's AdaptiveAvgPool2d((size, size)) on NHWC.

  Output row i averages input rows floor(i·H/size) .. ceil((i+1)·H/size) - 1 (the
  same for columns); bins overlap when H is not a multiple of size, and an input
  smaller than `size` is repeated.

  Args:
    x: [batch, height, width, channels].
    size: output height = width.

  Returns:
    [batch, size, size, channels].
  """
  def bins(n: int) -> np.ndarray:
    weights = np.zeros((size, n), np.float32)
    for i in range(size):
      start, end = i * n // size, -(-(i + 1) * n // size)
      weights[i, start:end] = 1.0 / (end - start)
    return weights

  return jnp.einsum("ih,bhwc,jw->bijc", bins(x.shape[1]), x, bins(x.shape[2]))


# Krizhevsky et al. Sec. 5: weights from N(0, 0.01); biases 1 in conv2, conv4, conv5 and
# the hidden dense layers (to give ReLUs positive inputs early), 0 elsewhere. Zeiler &
# Fergus Sec. 3 start every weight at 1e-2 scale too, with zero biases.
PAPER_INIT = nn.initializers.normal(0.01)
# PyTorch's default, which torchvision's AlexNet keeps: U(±1/sqrt(fan_in)) kernels.
TORCH_INIT = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def _conv(features: int, kernel: int, name: str, kernel_init, strides: int = 1,
          padding="VALID", groups: int = 1, bias: float = 0.0) -> Conv:
  return Conv(features, (kernel, kernel), strides=strides, padding=padding,
                 feature_group_count=groups, kernel_init=kernel_init,
                 bias_init=nn.initializers.constant(bias), name=name)


class AlexNet(nn.Module):
  """The two-tower network of Krizhevsky et al. 2012 (Fig. 2), on 227×227×3 inputs.

  conv1 11×11/4 96 - LRN - max pool 3/2 - conv2 5×5 256 - LRN - max pool 3/2 - conv3
  3×3 384 - conv4 3×3 384 - conv5 3×3 256 - max pool 3/2 - FC 4096 - FC 4096 - FC
  num_classes, ReLU after every layer but the last, dropout 0.5 after FC6 and FC7.
  The two GPUs' towers are convolution groups: conv2, conv4 and conv5 see only their own
  tower's maps (groups=2), conv3 and the dense layers see both.

  Attributes:
    num_classes: output classes.
    dropout_rate: dropout on FC6 and FC7.
    fully_convolutional: the head as convolutions (any input of at least 227×227 gives
      a score map), see `jcnn.models.convolutionalize`.
  """
  num_classes: int = 1000
  dropout_rate: float = 0.5
  fully_convolutional: bool = False
  head_window: ClassVar[int] = 6

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 227, 227, 3] -> logits [batch, num_classes]."""
    check_input_size("alexnet", x, (227, 227, 3), at_least=self.fully_convolutional)
    relu = jax.nn.relu
    conv = functools.partial(_conv, kernel_init=PAPER_INIT)
    x = lrn(relu(conv(96, 11, "conv1", strides=4)(x)))
    x = record(self, "pool1", jnn.max_pool(x, 3, 2))
    x = lrn(relu(conv(256, 5, "conv2", padding=2, groups=2, bias=1.0)(x)))
    x = record(self, "pool2", jnn.max_pool(x, 3, 2))
    x = record(self, "relu3", relu(conv(384, 3, "conv3", padding=1)(x)))
    x = record(self, "relu4", relu(conv(384, 3, "conv4", padding=1, groups=2, bias=1.0)(x)))
    x = relu(conv(256, 3, "conv5", padding=1, groups=2, bias=1.0)(x))
    x = record(self, "pool5", jnn.max_pool(x, 3, 2))
    return ClassifierHead(self.num_classes, self.head_window, dropout_rate=self.dropout_rate,
                          fully_convolutional=self.fully_convolutional,
                          kernel_init=PAPER_INIT, hidden_bias_init=nn.initializers.ones,
                          name=HEAD)(x, train)


class AlexNet1Tower(nn.Module):
  """torchvision's single-tower AlexNet (Krizhevsky 2014, "One weird trick").

  conv 11×11/4 64 pad 2 - max pool 3/2 - conv 5×5 192 - max pool 3/2 - conv 3×3 384 -
  conv 3×3 256 - conv 3×3 256 - max pool 3/2 - adaptive average pool to 6×6 - dropout -
  FC 4096 - dropout - FC 4096 - FC num_classes; no LRN. The adaptive pool is the
  identity at 224×224 and lets any input of at least 63×63 through, as in torchvision.

  Attributes:
    num_classes: output classes.
    dropout_rate: dropout before FC6 and FC7.
    fully_convolutional: the head as convolutions (no adaptive pool; inputs of at
      least 224×224 give a score map).
  """
  num_classes: int = 1000
  dropout_rate: float = 0.5
  fully_convolutional: bool = False
  head_window: ClassVar[int] = 6

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, H, W, 3], H, W >= 63 -> logits [batch, num_classes]."""
    smallest = 224 if self.fully_convolutional else 63
    check_input_size("alexnet_1tower", x, (smallest, smallest, 3), at_least=True)
    relu = jax.nn.relu
    conv = functools.partial(_conv, kernel_init=TORCH_INIT)
    x = relu(conv(64, 11, "conv1", strides=4, padding=2)(x))
    x = record(self, "pool1", jnn.max_pool(x, 3, 2))
    x = relu(conv(192, 5, "conv2", padding=2)(x))
    x = record(self, "pool2", jnn.max_pool(x, 3, 2))
    x = record(self, "relu3", relu(conv(384, 3, "conv3", padding=1)(x)))
    x = record(self, "relu4", relu(conv(256, 3, "conv4", padding=1)(x)))
    x = relu(conv(256, 3, "conv5", padding=1)(x))
    x = record(self, "pool5", jnn.max_pool(x, 3, 2))
    if not self.fully_convolutional:
      x = adaptive_avg_pool(x, self.head_window)
    return ClassifierHead(self.num_classes, self.head_window, dropout_rate=self.dropout_rate,
                          dropout_first=True, fully_convolutional=self.fully_convolutional,
                          kernel_init=TORCH_INIT, name=HEAD)(x, train)


class ZFNet(nn.Module):
  """Zeiler & Fergus 2013, Fig. 3, on 224×224×3 inputs: map sizes 110-55-26-13-13-13-6.

  conv1 7×7/2 96 - max pool 3/2 - LRN - conv2 5×5/2 256 - max pool 3/2 - LRN - conv3
  3×3 384 - conv4 3×3 384 - conv5 3×3 256 - max pool 3/2 - FC 4096 - FC 4096 - FC
  num_classes; one tower (dense connections in layers 3-5, Sec. 3). The figure gives
  no paddings; these reproduce its sizes: conv1 pads 1 (224 -> 110), the first two pools
  pad one row and column at the bottom and right (110 -> 55, 26 -> 13, what Caffe's
  ceil-mode pooling gives), conv2 pads none (55 -> 26), conv3-5 pad 1.

  Attributes:
    num_classes: output classes.
    dropout_rate: dropout on FC6 and FC7.
    fully_convolutional: the head as convolutions (inputs of at least 224×224 give a
      score map).
    adaptive_pool: an adaptive average pool to 6×6 before the head, as torchvision's
      AlexNet has: the identity at 224×224, and any input of at least 63×63 passes
      (e.g. CIFAR-10 at 64×64, beside `alexnet_1tower` on the same recipe).
  """
  num_classes: int = 1000
  dropout_rate: float = 0.5
  fully_convolutional: bool = False
  adaptive_pool: bool = False
  head_window: ClassVar[int] = 6

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 224, 224, 3] (at least 63×63 with `adaptive_pool`) -> logits."""
    if self.adaptive_pool and self.fully_convolutional:
      raise ValueError("zfnet: adaptive_pool and fully_convolutional exclude each other")
    check_input_size("zfnet", x, (63, 63, 3) if self.adaptive_pool else (224, 224, 3),
                     at_least=self.fully_convolutional or self.adaptive_pool)
    relu = jax.nn.relu
    ceil_pad = ((0, 1), (0, 1))
    conv = functools.partial(_conv, kernel_init=PAPER_INIT)
    x = relu(conv(96, 7, "conv1", strides=2, padding=1)(x))
    x = record(self, "norm1", lrn(jnn.max_pool(x, 3, 2, padding=ceil_pad)))
    x = relu(conv(256, 5, "conv2", strides=2)(x))
    x = record(self, "norm2", lrn(jnn.max_pool(x, 3, 2, padding=ceil_pad)))
    x = record(self, "relu3", relu(conv(384, 3, "conv3", padding=1)(x)))
    x = record(self, "relu4", relu(conv(384, 3, "conv4", padding=1)(x)))
    x = record(self, "relu5", relu(conv(256, 3, "conv5", padding=1)(x)))
    x = record(self, "pool5", jnn.max_pool(x, 3, 2))
    if self.adaptive_pool:
      x = adaptive_avg_pool(x, self.head_window)
    return ClassifierHead(self.num_classes, self.head_window, dropout_rate=self.dropout_rate,
                          fully_convolutional=self.fully_convolutional,
                          kernel_init=PAPER_INIT, name=HEAD)(x, train)


_DROPOUT_NOTE = ("inverted dropout (scaled at train time) instead of halving outputs at "
                 "test time")

register("alexnet", input_shape=(227, 227, 3), num_classes=1000,
         paper="Krizhevsky, Sutskever & Hinton 2012, ImageNet Classification with Deep "
               "Convolutional Neural Networks",
         num_params=60_965_224,
         params_source="Caffe bvlc_alexnet (same layers and groups): 60,965,224",
         top1=0.593, top1_source="Krizhevsky et al. 2012, Table 2 (1 CNN, ILSVRC-2012 val "
                                 "top-1 error 40.7%)",
         mean=IMAGENET_MEAN, std=IMAGENET_STD,
         notes="227×227 input: the paper's 224 does not give its 55×55 conv1 maps, "
               "(227 - 11) / 4 + 1 = 55 does. LRN with the paper's constants (k=2, n=5, "
               "alpha=1e-4 on the plain sum, beta=0.75), not Caffe's (k=1, alpha/n). "
               "LRN before each of the first two pools, as the paper orders them. The "
               "paper's initialisation: N(0, 0.01) weights, biases 1 in conv2, conv4, conv5, "
               "FC6, FC7 and 0 elsewhere; " + _DROPOUT_NOTE)(AlexNet)
register("alexnet_1tower", input_shape=(224, 224, 3), num_classes=1000,
         paper="Krizhevsky 2014, One weird trick for parallelizing convolutional neural "
               "networks (torchvision's AlexNet)",
         num_params=61_100_840, params_source="torchvision AlexNet_Weights.IMAGENET1K_V1",
         top1=0.56522, top1_source="torchvision AlexNet_Weights.IMAGENET1K_V1",
         macs=round(0.71e9), min_input_size=63, mean=IMAGENET_MEAN, std=IMAGENET_STD,
         notes="macs: torchvision's 'GFLOPS' 0.71 (multiply-accumulates); min_input_size: "
               "torchvision's min_size 63. PyTorch's default U(±1/sqrt(fan_in)) kernels, "
               "which torchvision keeps; biases start at 0 (PyTorch draws them uniformly "
               "too)")(AlexNet1Tower)
register("zfnet", input_shape=(224, 224, 3), num_classes=1000,
         paper="Zeiler & Fergus 2013, Visualizing and Understanding Convolutional Networks",
         num_params=62_357_608,
         params_source="computed from Fig. 3 (no published total): conv 14,208 + 614,656 + "
                       "885,120 + 1,327,488 + 884,992, FC 37,752,832 + 16,781,312 + 4,097,000",
         top1=0.616, top1_source="Zeiler & Fergus 2013, Table 2 (1 convnet as per Fig. 3, "
                                 "val top-1 error 38.4%)",
         mean=IMAGENET_MEAN, std=IMAGENET_STD,
         # py-faster-rcnn's ZF: conv5 (stride 16), 6×6 RoI pooling into fc6/fc7.
         backbone=Backbone("relu5", 16, (4096, 4096), head_from_model=True, roi_size=6,
                           kwargs=(("fully_convolutional", True),)),
         notes="paddings chosen to give Fig. 3's map sizes 110-55-26-13-13-13-6: conv1 pad "
               "1, pools 1 and 2 pad bottom/right by 1 (Caffe's ceil mode), conv2 none, "
               "conv3-5 pad 1. Contrast normalisation as AlexNet's LRN constants, after "
               "each of the first two pools as in Fig. 3. The paper's renormalisation of "
               "conv filters with RMS above 0.1 is a training rule, not part of the model. "
               "The paper's initialisation (weights 1e-2 scale: N(0, 0.01), zero biases); "
               + _DROPOUT_NOTE)(ZFNet)
