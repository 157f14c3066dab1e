"""What every name map is made of: `Map` (one source network -> one zoo model), the
source's tensors taken once each (`Tensors`), the zoo variables built from them
(`Variables`), and the layout changes between frameworks.

Layouts: PyTorch convolution kernels are [out, in, kh, kw] (OIHW), Flax's [kh, kw, in,
out] (HWIO); a PyTorch linear layer is [out, in], a Flax dense kernel [in, out]; a
dense layer reading a flattened map flattens it (C, H, W) in PyTorch and (H, W, C) here.
Batch norm: each source layer's epsilon is kept beside its statistics, and the importer
folds a difference from the zoo layer's epsilon into the running variance.
"""
import dataclasses
import pathlib
from typing import Callable

import numpy as np

from jcnn.pretrained.readers import Weights


# The zoo's inception_v3 conv units (ConvUnit paths), in the order TF-slim builds them:
# torchvision names its modules as the zoo does, and Keras numbers its unnamed layers
# (conv2d_<n>, batch_normalization_<n>) in this order.
_V3_BLOCKS = {
    "A": ("branch1x1", "branch5x5_1", "branch5x5_2", "branch3x3dbl_1", "branch3x3dbl_2",
          "branch3x3dbl_3", "branch_pool"),
    "B": ("branch3x3", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"),
    "C": ("branch1x1", "branch7x7_1", "branch7x7_2", "branch7x7_3", "branch7x7dbl_1",
          "branch7x7dbl_2", "branch7x7dbl_3", "branch7x7dbl_4", "branch7x7dbl_5",
          "branch_pool"),
    "D": ("branch3x3_1", "branch3x3_2", "branch7x7x3_1", "branch7x7x3_2", "branch7x7x3_3",
          "branch7x7x3_4"),
    "E": ("branch1x1", "branch3x3_1", "branch3x3_2a", "branch3x3_2b", "branch3x3dbl_1",
          "branch3x3dbl_2", "branch3x3dbl_3a", "branch3x3dbl_3b", "branch_pool"),
}
INCEPTION_V3_UNITS: tuple[str, ...] = (
    "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
    *(f"{block}/{unit}" for block, kind in (
        ("Mixed_5b", "A"), ("Mixed_5c", "A"), ("Mixed_5d", "A"), ("Mixed_6a", "B"),
        ("Mixed_6b", "C"), ("Mixed_6c", "C"), ("Mixed_6d", "C"), ("Mixed_6e", "C"),
        ("Mixed_7a", "D"), ("Mixed_7b", "E"), ("Mixed_7c", "E"))
      for unit in _V3_BLOCKS[kind]),
)


@dataclasses.dataclass(frozen=True)
class Map:
  """How one source network's weights become a zoo model's variables.

  Attributes:
    source: the framework's name and the network's there ("torchvision resnet50").
    model: the zoo model (`jcnn.models` registry name).
    build: fills `Variables` from `Tensors`, taking every tensor of the source network.
    mean, std: the input normalisation the source's weights expect, per RGB channel,
      on pixels in [0, 1] (a run's dataset info).
    kwargs: zoo model fields the source needs (Keras' ResNets: stride_in_1x1=True).
    notes: how the port differs in form from the source (and why the outputs do not).
  """
  source: str
  model: str
  build: Callable[["Tensors", "Variables"], None]
  mean: tuple[float, ...]
  std: tuple[float, ...]
  kwargs: tuple[tuple[str, object], ...] = ()
  notes: str = ""


class Tensors:
  """A weight file's tensors, each taken once by a map; the rest are named as foreign."""

  def __init__(self, weights: Weights, source: str):
    self.path: pathlib.Path = weights.path
    self.layers: dict[str, dict] = weights.layers
    self.source = source
    self._left = dict(weights.tensors)

  def take(self, name: str) -> np.ndarray:
    """The tensor `name`; a missing one is a file of another network."""
    if name not in self._left:
      raise ValueError(f"{self.path}: no tensor {name!r}, which {self.source} has: a "
                       f"file of another network?")
    return self._left.pop(name)

  def has(self, name: str) -> bool:
    return name in self._left

  def left(self) -> list[str]:
    """The tensors no one took, in file order."""
    return list(self._left)


@dataclasses.dataclass
class Leaf:
  """A zoo variable built from a source tensor (`origin`, of shape `shape` there)."""
  value: np.ndarray
  origin: str
  shape: tuple[int, ...]


class Variables:
  """The zoo variables a map builds, by path ("params/stage1_block1/conv1/kernel"), and
  the source's batch-norm epsilons by module path ("stage1_block1/bn1")."""

  def __init__(self):
    self.leaves: dict[tuple[str, ...], Leaf] = {}
    self.epsilons: dict[tuple[str, ...], float] = {}

  def set(self, path: str, value: np.ndarray, origin: str, shape=None) -> None:
    key = tuple(path.split("/"))
    if key in self.leaves:
      raise ValueError(f"variable {path} is built twice (from {self.leaves[key].origin} "
                       f"and {origin})")
    self.leaves[key] = Leaf(value, origin, tuple(np.shape(value) if shape is None else shape))

  def batch_norm(self, path: str, *, scale, bias, mean, var, epsilon: float,
                 origin: str) -> None:
    """A batch norm's four tensors and the epsilon the source divides by."""
    for collection, name, value in (("params", "scale", scale), ("params", "bias", bias),
                                    ("batch_stats", "mean", mean),
                                    ("batch_stats", "var", var)):
      self.set(f"{collection}/{path}/{name}", value, origin)
    self.epsilons[tuple(path.split("/"))] = float(epsilon)


def hwio(kernel: np.ndarray) -> np.ndarray:
  """A PyTorch convolution kernel [out, in, kh, kw] as Flax's [kh, kw, in, out]."""
  if kernel.ndim != 4:
    raise ValueError(f"a convolution kernel has 4 axes, got shape {kernel.shape}")
  return kernel.transpose(2, 3, 1, 0)


def dense(kernel: np.ndarray) -> np.ndarray:
  """A PyTorch linear weight [out, in] as a Flax dense kernel [in, out]."""
  if kernel.ndim != 2:
    raise ValueError(f"a linear weight has 2 axes, got shape {kernel.shape}")
  return kernel.T


def dense_after_flatten(kernel: np.ndarray, window: int) -> np.ndarray:
  """A PyTorch linear weight [out, C·window²] reading a map flattened (C, H, W), as a
  Flax kernel [window²·C, out] reading it flattened (H, W, C)."""
  out, flat = kernel.shape
  if flat % (window * window):
    raise ValueError(f"a linear weight of shape {kernel.shape} does not read a "
                     f"{window}×{window} map")
  channels = flat // (window * window)
  # Reordering each row first, then transposing, is ~7× faster than one 4-axis transpose.
  rows = np.ascontiguousarray(kernel.reshape(out, channels, window * window).transpose(0, 2, 1))
  return rows.reshape(out, flat).T
