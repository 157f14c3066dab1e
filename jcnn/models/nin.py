"""Network in Network (Lin, Chen & Yan 2014): mlpconv blocks and global average pooling.

An mlpconv block is a k×k convolution followed by two 1×1 convolutions (the paper's
per-pixel MLP, Caffe's "cccp" layers), ReLU after each. The last block has one map per
class and global average pooling turns the maps into logits: no dense layer.

Layer configurations are the authors' Caffe models: "NIN-CIFAR10" (Caffe Model Zoo, gist
mavenlin/e56253735ef32c3c296d) and "NIN-ImageNet" (gist mavenlin/d802a5849de39225bcc6).
Caffe's pooling rounds the output size up, so its pools are reproduced exactly here
(`caffe_pool`).
"""
import functools
from typing import NamedTuple, Sequence

import flax.linen as nn
import jax

from jcnn import nn as jnn
from jcnn.data.stats import IMAGENET_MEAN, IMAGENET_STD
from jcnn.models.features import record
from jcnn.models.layers import Conv
from jcnn.models.registry import register


def caffe_pool(x: jax.Array, kind: str, window: int, stride: int) -> jax.Array:
  """Caffe's unpadded pooling: ceil((n - window) / stride) + 1 outputs per axis.

  The last window may hang over the bottom/right border; max ignores the overhang and
  average divides by the cells inside the image, as Caffe does.

  Args:
    x: [batch, height, width, channels], height and width >= window.
    kind: "max" or "avg".
    window, stride: square window and stride.

  Returns:
    [batch, ceil((height - window) / stride) + 1, ceil(...) + 1, channels].
  """
  if min(x.shape[1:3]) < window:
    raise ValueError(f"{kind} pool {window}×{window} needs maps of at least that size, "
                     f"got {tuple(x.shape)}")

  def overhang(n: int) -> int:
    out = -(-(n - window) // stride) + 1
    return (out - 1) * stride + window - n

  pads = ((0, overhang(x.shape[1])), (0, overhang(x.shape[2])))
  if kind == "max":
    return jnn.max_pool(x, window, stride, padding=pads)
  if kind == "avg":
    return jnn.avg_pool(x, window, stride, padding=pads, count_include_pad=False)
  raise ValueError(f"pool kind must be 'max' or 'avg', got {kind!r}")


class Block(NamedTuple):
  """One mlpconv block and what follows it.

  kernel, stride, padding: the k×k convolution's.
  widths: channels of the k×k and the two 1×1 convolutions; None is the class count.
  pool: "max" or "avg" 3×3/2 Caffe pooling after the block, or None.
  dropout: dropout 0.5 after the block (and its pool).
  """
  kernel: int
  stride: int
  padding: int
  widths: tuple[int | None, int | None, int | None]
  pool: str | None
  dropout: bool


CIFAR_BLOCKS = (
    Block(5, 1, 2, (192, 160, 96), "max", True),
    Block(5, 1, 2, (192, 192, 192), "avg", True),
    Block(3, 1, 1, (192, 192, None), None, False),
)
IMAGENET_BLOCKS = (
    Block(11, 4, 0, (96, 96, 96), "max", False),
    Block(5, 1, 2, (256, 256, 256), "max", False),
    Block(3, 1, 1, (384, 384, 384), "max", True),
    Block(3, 1, 1, (1024, 1024, None), None, False),
)


class NIN(nn.Module):
  """Network in Network: mlpconv blocks, then global average pooling of class maps.

  Layers are named as in the Caffe models (conv1, cccp1, cccp2, conv2, ...); block b's
  output, before its pool, is recorded as "mlpconv{b}".

  Attributes:
    blocks: the mlpconv blocks, CIFAR_BLOCKS or IMAGENET_BLOCKS.
    num_classes: output classes (maps of the last 1×1 convolution).
    dropout_rate: rate of the dropout layers the blocks ask for.
  """
  blocks: Sequence[Block] = CIFAR_BLOCKS
  num_classes: int = 10
  dropout_rate: float = 0.5

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, height, width, 3] -> logits [batch, num_classes]."""
    if x.ndim != 4 or x.shape[-1] != 3:
      raise ValueError(f"nin expects inputs [batch, height, width, 3], got {tuple(x.shape)}")
    for b, block in enumerate(self.blocks, start=1):
      names = (f"conv{b}", f"cccp{2 * b - 1}", f"cccp{2 * b}")
      kernels = (block.kernel, 1, 1)
      strides = (block.stride, 1, 1)
      pads = (block.padding, 0, 0)
      for name, width, kernel, stride, pad in zip(names, block.widths, kernels, strides, pads):
        x = Conv(self.num_classes if width is None else width, (kernel, kernel),
                    strides=stride, padding=pad, name=name)(x)
        x = jax.nn.relu(x)
      x = record(self, f"mlpconv{b}", x)
      if block.pool:
        x = caffe_pool(x, block.pool, 3, 2)
      if block.dropout:
        key = self.make_rng("dropout") if train and self.dropout_rate > 0 else None
        x = jnn.dropout(x, self.dropout_rate, key, deterministic=not train)
    return jnn.global_avg_pool(x)


register("nin_cifar", input_shape=(32, 32, 3), num_classes=10,
         paper="Lin, Chen & Yan 2014, Network In Network",
         num_params=966_986,
         params_source="computed from the authors' Caffe model NIN-CIFAR10 (Model Zoo gist "
                       "mavenlin/e56253735ef32c3c296d; no published total): conv/cccp "
                       "14,592 + 30,880 + 15,456 + 460,992 + 37,056 + 37,056 + 331,968 + "
                       "37,056 + 1,930",
         top1=0.8959, top1_source="Lin et al. 2014, Table 1 (NIN + Dropout, CIFAR-10 test "
                                  "error 10.41%, no augmentation)",
         notes="the Caffe model's layers: pools 3×3/2 in Caffe's ceil mode (32 -> 16 -> 8), "
               "pool 2 average, ReLU also after cccp6; its final 8×8 average pool is global "
               "average pooling here. The paper's inputs are global-contrast-normalised "
               "and ZCA-whitened, so no per-channel mean/std is given. Flax default "
               "initialisation, not Caffe's Gaussians"
         )(functools.partial(NIN, blocks=CIFAR_BLOCKS))
register("nin", input_shape=(224, 224, 3), num_classes=1000,
         paper="Lin, Chen & Yan 2014, Network In Network (the authors' ImageNet model)",
         num_params=7_595_176,
         params_source="computed from the authors' Caffe model NIN-ImageNet (Model Zoo gist "
                       "mavenlin/d802a5849de39225bcc6, about 29 MB of float32; no published "
                       "count)",
         top1=0.5936, top1_source="Caffe Model Zoo NIN-ImageNet (gist "
                                  "mavenlin/d802a5849de39225bcc6): 59.36% ILSVRC-2012 val",
         min_input_size=64, mean=IMAGENET_MEAN, std=IMAGENET_STD,
         notes="the Caffe model's layers: maps 54 -> 27 -> 13 -> 6 at 224 (pools in Caffe's "
               "ceil mode), dropout after pool 3, ReLU also after cccp8; its final 6×6 "
               "average pool is global average pooling here. Flax default "
               "initialisation, not Caffe's Gaussians"
         )(functools.partial(NIN, blocks=IMAGENET_BLOCKS, num_classes=1000))
