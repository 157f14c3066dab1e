"""A small VGG-style network: the CPU-sized backbone of the digit detectors.

3×3 convolutions with ReLU and 2×2 max pooling, as VGG, but a few channels wide and a
global-average-pooled head, so it takes any input of at least 8×8 pixels. Trained as a
classifier (e.g. on MNIST) it pre-trains a Faster R-CNN backbone (`config.init_from`),
which cuts it at "relu4" (stride 8).
"""
import flax.linen as nn
import jax

from jcnn import nn as jnn
from jcnn.models.features import record
from jcnn.models.layers import Conv
from jcnn.models.registry import Backbone, register

# (channels of each 3×3 convolution, max-pool after the stage): stride 8 after stage 3.
STAGES = (((16,), True), ((32,), True), ((64, 64), True), ((128,), False))
CONV_INIT = nn.initializers.variance_scaling(2.0, "fan_out", "normal")


class SmallVGG(nn.Module):
  """conv1 16 · pool · conv2 32 · pool · conv3 64, 64 · pool · conv4 128 · GAP · dense.

  Attributes:
    num_classes: output classes.
    width: multiplies every convolution's channels.
  """
  num_classes: int = 10
  width: float = 1.0

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, H >= 8, W >= 8, C] -> logits [batch, num_classes]."""
    if x.ndim != 4 or min(x.shape[1:3]) < 8:
      raise ValueError(f"small_vgg expects inputs [batch, >= 8, >= 8, channels], got "
                       f"{tuple(x.shape)}")
    for stage, (widths, pool) in enumerate(STAGES, start=1):
      for i, channels in enumerate(widths, start=1):
        name = f"conv{stage}" if len(widths) == 1 else f"conv{stage}_{i}"
        x = Conv(max(1, round(channels * self.width)), (3, 3), padding=1,
                 kernel_init=CONV_INIT, name=name)(x)
        x = jax.nn.relu(x)
      x = record(self, f"relu{stage}", x)
      if pool:
        x = jnn.max_pool(x, 2, 2)
    return nn.Dense(self.num_classes, name="fc")(x.mean(axis=(1, 2)))


register("small_vgg", input_shape=(32, 32, 1), num_classes=10,
         paper="jcnn: a CPU-sized VGG-style backbone (Simonyan & Zisserman 2015's 3×3 "
               "convolutions)",
         num_params=135_370,
         params_source="computed: convolutions 160 + 4,640 + 18,496 + 36,928 + 73,856, "
                       "dense 1,290",
         min_input_size=8,
         backbone=Backbone("relu4", 8, (256, 256)))(SmallVGG)
