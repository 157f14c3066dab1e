"""AlexNet's four-layer CIFAR-10 net, with the canon's design choices as fields.

Krizhevsky's cuda-convnet `layers-18pct` (18 % CIFAR-10 test error; ported to Caffe as
`cifar10_full`): three 5×5 convolutions of 32, 32 and 64 channels, each followed by
3×3 pooling with stride 2 (max, then average, average) and the first two by local
response normalisation, then one dense layer. AlexNet's CIFAR-10 evidence for ReLUs
(§3.1, Fig. 1) and for response normalisation (§3.3: 13 % test error without, 11 %
with) comes from a net of this kind. Each choice the canon argued over is one field, so
a study (`train/studies/`) switches exactly one:

  activation   relu | tanh                  AlexNet §3.1
  lrn          response normalisation       AlexNet §3.3
  pool_window  3 (overlapping) | 2          AlexNet §3.4: same output size either way
  head         dense | gap                  NiN §3.2: global average pooling
  kernel/stack one 7×7 | three 3×3          VGG §2.3: the same receptive field
  batch_norm   BN after every convolution   Inception v2 (Ioffe & Szegedy 2015)
"""
import flax.linen as nn
import jax

from jcnn import nn as jnn
from jcnn.models.alexnet import lrn as alexnet_lrn
from jcnn.models.convolutionalize import check_input_size
from jcnn.models.features import record
from jcnn.models.layers import ACTIVATIONS, BatchNorm, Conv, choice
from jcnn.models.nin import caffe_pool
from jcnn.models.registry import register

# (channels, pooling after the layer, response normalisation after the pooling).
LAYERS = ((32, "max", True), (32, "avg", True), (64, "avg", False))
HEADS = ("dense", "gap")
# He initialisation: the 9-convolution stack (stack=3) trains without batch norm.
CONV_INIT = nn.initializers.variance_scaling(2.0, "fan_in", "normal")


class CifarConvNet(nn.Module):
  """conv 32 · pool · LRN · conv 32 · pool · LRN · conv 64 · pool · dense (89,578 params).

  Attributes:
    num_classes: output classes.
    activation: "relu" or "tanh" (or "sigmoid").
    lrn: AlexNet's response normalisation (n=5, k=2, α=1e-4, β=0.75, across channels,
      as §3.3 defines it; Caffe's port normalises within channels) after pools 1 and 2.
    pool_window: 3 (overlapping windows at stride 2, the paper's) or 2 (adjacent).
      Pooling is Caffe's (ceil mode), so 32 → 16 → 8 → 4 either way.
    head: "dense" (the 4×4×64 map flattened into one dense layer) or "gap" (averaged
      over space first, NiN's global average pooling: one weight per channel and class).
    kernel, stack: every convolution becomes `stack` k×k convolutions with the
      activation between them (VGG): kernel=7, stack=1 against kernel=3, stack=3 gives
      each layer the same 7×7 receptive field.
    batch_norm: batch norm between each convolution and its activation (the
      convolution then has no bias); Inception v2 also drops the LRN (`lrn=False`).
  """
  num_classes: int = 10
  activation: str = "relu"
  lrn: bool = True
  pool_window: int = 3
  head: str = "dense"
  kernel: int = 5
  stack: int = 1
  batch_norm: bool = False

  def _check_fields(self):
    if self.pool_window not in (2, 3):
      raise ValueError(f"pool_window must be 2 or 3, got {self.pool_window}")
    if self.head not in HEADS:
      raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")
    if self.kernel < 1 or self.kernel % 2 == 0 or self.stack < 1:
      raise ValueError(f"kernel must be odd and >= 1 and stack >= 1, got kernel="
                       f"{self.kernel}, stack={self.stack}")

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 32, 32, C] -> logits [batch, num_classes]."""
    self._check_fields()
    check_input_size("cifar_convnet", x, (32, 32, x.shape[-1]))
    act = choice("activation", ACTIVATIONS, self.activation)
    pad = self.kernel // 2
    for layer, (channels, pool, normalise) in enumerate(LAYERS, start=1):
      for i in range(1, self.stack + 1):
        name = f"conv{layer}" if self.stack == 1 else f"conv{layer}_{i}"
        x = Conv(channels, (self.kernel, self.kernel), padding=((pad, pad), (pad, pad)),
                 use_bias=not self.batch_norm, kernel_init=CONV_INIT, name=name)(x)
        if self.batch_norm:
          x = BatchNorm(use_running_average=not train, momentum=0.9,
                        name=name.replace("conv", "bn"))(x)
        x = act(x)
      x = caffe_pool(x, pool, self.pool_window, 2)
      if normalise and self.lrn:
        x = alexnet_lrn(x)
      x = record(self, f"layer{layer}", x)
    x = x.mean(axis=(1, 2)) if self.head == "gap" else x.reshape(x.shape[0], -1)
    return nn.Dense(self.num_classes, name="fc")(x)


register("cifar_convnet", input_shape=(32, 32, 3), num_classes=10,
         paper="Krizhevsky 2012, cuda-convnet layers-18pct (Caffe's cifar10_full); the "
               "four-layer CIFAR-10 net of Krizhevsky et al. 2012 §3.1/§3.3",
         num_params=89_578,
         params_source="Caffe examples/cifar10/cifar10_full.prototxt's layer shapes: "
                       "conv 2,432 + 25,632 + 51,264, ip1 10,250",
         top1=0.82, top1_source="cuda-convnet layers-18pct: 18 % CIFAR-10 test error "
                                "(no augmentation)",
         notes="He-initialised convolutions (Caffe: N(0, 1e-4) conv1, N(0, 0.01) "
                 "after); AlexNet's cross-channel LRN in place of Caffe's within-channel "
                 "one")(CifarConvNet)
