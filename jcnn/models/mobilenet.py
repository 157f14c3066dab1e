"""MobileNet v1 (Howard et al. 2017): depthwise separable convolutions, Table 1.

A standard 3×3/2 convolution, then 13 depthwise separable blocks (a 3×3 depthwise
convolution and a 1×1 pointwise one, each followed by BatchNorm and ReLU6), global
average pooling and one dense layer. The width multiplier `alpha` scales every layer's
channels (Sec. 3.3), as `int(channels * alpha)` like Keras Applications.
"""
import flax.linen as nn
import jax

from jcnn import nn as jnn
from jcnn.data.stats import IMAGENET_MEAN, IMAGENET_STD
from jcnn.models.features import record
from jcnn.models.layers import BatchNorm, Conv
from jcnn.models.registry import register

# Table 1 after the first convolution: (pointwise channels, depthwise stride) per block.
# The table's second-to-last "Conv dw / s2" at 7×7 is a typo: its input and output are
# both 7×7, and the reference implementations (TF-slim, Keras) use stride 1.
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
          (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))
# Where the resolution drops next: the end of each stage recorded as a feature.
_STAGE_ENDS = {1: "stage1", 3: "stage2", 5: "stage3", 11: "stage4", 13: "stage5"}


class MobileNetV1(nn.Module):
  """MobileNet v1 for square inputs of at least 32×32 (224×224 in the paper).

  Attributes:
    num_classes: output classes.
    alpha: width multiplier (1.0, 0.75, 0.5, 0.25 in the paper).
    dropout_rate: dropout before the classifier (Keras' and TF-slim's default 1e-3).
    keras_padding: the strided depthwise convolutions pad one row and column at the
      bottom and right, then none, as Keras' MobileNet does: SAME on even grids, one
      cell less on odd ones (inputs that are not multiples of 32).
  """
  num_classes: int = 1000
  alpha: float = 1.0
  dropout_rate: float = 1e-3
  keras_padding: bool = False

  def _width(self, channels: int) -> int:
    return int(channels * self.alpha)

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, H, W, 3], H, W >= 32 -> logits [batch, num_classes]."""
    if not self.alpha > 0:
      raise ValueError(f"alpha must be positive, got {self.alpha!r}")
    if x.ndim != 4 or x.shape[-1] != 3 or min(x.shape[1:3]) < 32:
      raise ValueError(f"mobilenet_v1 expects inputs [batch, >=32, >=32, 3], "
                       f"got {tuple(x.shape)}")

    def conv_bn(x, features, kernel, strides, groups, name, padding="SAME"):
      x = Conv(features, (kernel, kernel), strides=strides, padding=padding,
                  feature_group_count=groups, use_bias=False, name=name)(x)
      x = BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                       name=f"{name}_bn")(x)
      return jax.nn.relu6(x)

    x = conv_bn(x, self._width(32), 3, 2, 1, "conv1")
    for i, (channels, strides) in enumerate(BLOCKS, start=1):
      keras_pad = self.keras_padding and strides == 2
      x = conv_bn(x, x.shape[-1], 3, strides, x.shape[-1], f"conv_dw_{i}",
                  ((0, 1), (0, 1)) if keras_pad else "SAME")
      x = conv_bn(x, self._width(channels), 1, 1, 1, f"conv_pw_{i}")
      if i in _STAGE_ENDS:
        x = record(self, _STAGE_ENDS[i], x)
    x = jnn.global_avg_pool(x)
    key = self.make_rng("dropout") if train and self.dropout_rate > 0 else None
    x = jnn.dropout(x, self.dropout_rate, key, deterministic=not train)
    return nn.Dense(self.num_classes, name="preds")(x)


register("mobilenet_v1", input_shape=(224, 224, 3), num_classes=1000,
         paper="Howard et al. 2017, MobileNets: Efficient Convolutional Neural Networks "
               "for Mobile Vision Applications",
         num_params=4_231_976,
         params_source="Keras Applications MobileNet(alpha=1.0): 4,253,864 total = "
                       "4,231,976 trainable + 21,888 BatchNorm moving means and variances "
                       "(batch_stats here, not params)",
         top1=0.706, top1_source="Howard et al. 2017, Table 8 (1.0 MobileNet-224: 70.6%)",
         macs=569_000_000, min_input_size=32, mean=IMAGENET_MEAN, std=IMAGENET_STD,
         notes="ReLU6 (the reference implementations', TF-slim and Keras; the paper writes "
               "ReLU); TF 'SAME' padding, Keras' own at multiples of 32 (keras_padding=True: "
               "at any size); dense classifier where Keras has a 1×1 convolution (same "
               "count); macs: the paper's Table 8 (569M mult-adds)"
         )(MobileNetV1)
