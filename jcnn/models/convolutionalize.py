"""Dense heads as convolutions: AlexNet's, ZFNet's and VGG's FC6-FC7-FC8 over any image.

A dense layer reading a `window × window × C` map is a `window × window` VALID
convolution with the same weights; FC7 and FC8 are 1×1 convolutions. Applied to a
larger image, the convolutional form slides the whole classifier over it and returns a
map of class scores — VGG's "dense evaluation" (Simonyan & Zisserman 2015, Sec. 3.2),
OverFeat's and FCN's trick. At the training size the map is 1×1 and equals the logits.

`ClassifierHead` holds both forms (the model's `fully_convolutional` field picks one);
`convolutionalize` turns a trained dense model into its convolutional twin by reshaping
kernels, without re-initialising anything.
"""
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jcnn import nn as jnn
from jcnn.models.features import record
from jcnn.models.layers import Conv

Initializer = nn.initializers.Initializer
HEAD = "classifier"  # the head's sub-module name in every model that has one


def check_input_size(name: str, x: jax.Array, shape: tuple[int, int, int], *,
                     at_least: bool = False):
  """Raises unless `x` is [batch, *shape] (or, with `at_least`, no smaller than shape)."""
  if x.ndim == 4 and x.shape[3] == shape[2]:
    height, width = x.shape[1:3]
    if at_least and height >= shape[0] and width >= shape[1]:
      return
    if not at_least and (height, width) == tuple(shape[:2]):
      return
  bound = "at least " if at_least else ""
  raise ValueError(f"{name} expects inputs [batch, {bound}{shape[0]}, {bound}{shape[1]}, "
                   f"{shape[2]}], got {tuple(x.shape)}")


class ClassifierHead(nn.Module):
  """FC6-FC7-FC8 with ReLU and dropout 0.5 on the two hidden layers.

  Attributes:
    num_classes: FC8's width.
    window: height = width of the map FC6 reads (AlexNet, ZFNet: 6; VGG: 7).
    hidden: width of FC6 and FC7.
    dropout_rate: dropout on the hidden layers.
    dropout_first: dropout before FC6 and FC7 (torchvision's AlexNet) instead of after
      them (the papers, Caffe, torchvision's VGG).
    fully_convolutional: FC6 as a `window × window` VALID convolution and FC7/FC8 as
      1×1 convolutions, giving a score map instead of one score vector.
    kernel_init: initialiser of the three kernels (the fan-in of FC6's is
      window² · C in both forms).
    hidden_bias_init: initialiser of FC6's and FC7's biases (AlexNet's paper: ones);
      FC8's start at zero.
  """
  num_classes: int
  window: int
  hidden: int = 4096
  dropout_rate: float = 0.5
  dropout_first: bool = False
  fully_convolutional: bool = False
  kernel_init: Initializer = nn.initializers.lecun_normal()
  hidden_bias_init: Initializer = nn.initializers.zeros

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, window, window, C] -> logits [batch, num_classes]; or, fully
    convolutional, [batch, H, W, C] -> scores [batch, H - window + 1, W - window + 1,
    num_classes]."""
    if not self.fully_convolutional:
      if x.shape[1:3] != (self.window, self.window):
        raise ValueError(f"the dense head reads a {self.window}×{self.window} map, got "
                         f"{tuple(x.shape)}; use the fully convolutional form for other sizes")
      x = x.reshape(x.shape[0], -1)

    def layer(features: int, kernel: int, name: str) -> nn.Module:
      inits = dict(kernel_init=self.kernel_init, name=name,
                   bias_init=nn.initializers.zeros if name == "fc8" else self.hidden_bias_init)
      if self.fully_convolutional:
        return Conv(features, (kernel, kernel), padding="VALID", **inits)
      return nn.Dense(features, **inits)

    def drop(x):
      key = self.make_rng("dropout") if train and self.dropout_rate > 0 else None
      return jnn.dropout(x, self.dropout_rate, key, deterministic=not train)

    for i, (name, kernel) in enumerate((("fc6", self.window), ("fc7", 1)), start=6):
      x = drop(x) if self.dropout_first else x
      x = jax.nn.relu(layer(self.hidden, kernel, name)(x))
      # As maps (1×1 in the dense form): R-CNN's SVMs read relu7 (Caffe's fc7 blob).
      record(self, f"relu{i}", x if x.ndim == 4 else x[:, None, None, :])
      x = x if self.dropout_first else drop(x)
    return layer(self.num_classes, 1, "fc8")(x)


def dense_to_conv_kernels(head_params: dict[str, Any], window: int) -> dict[str, Any]:
  """Reshapes a dense head's kernels into the convolutional head's.

  FC6's kernel [window² · C, hidden] flattens its input in (row, column, channel) order,
  so it is [window, window, C, hidden] read row-major; FC7's and FC8's [in, out] become
  [1, 1, in, out]. Biases are unchanged.

  Args:
    head_params: `params["classifier"]` of a dense model: {"fc6": {"kernel", "bias"}, ...}.
    window: height = width of the map FC6 reads.

  Returns:
    The same tree with 4-D kernels.
  """
  fc6 = head_params["fc6"]["kernel"]
  if fc6.ndim != 2 or fc6.shape[0] % (window * window):
    raise ValueError(f"fc6 kernel {fc6.shape} is not a dense kernel over a "
                     f"{window}×{window} map")
  channels = fc6.shape[0] // (window * window)
  shapes = {"fc6": (window, window, channels, fc6.shape[1])}
  out = {}
  for name, layer in head_params.items():
    kernel = layer["kernel"]
    shape = shapes.get(name, (1, 1, *kernel.shape))
    out[name] = {**layer, "kernel": jnp.reshape(kernel, shape)}
  return out


def convolutionalize(model: nn.Module, variables: dict) -> tuple[nn.Module, dict]:
  """The fully convolutional twin of a model with a dense `ClassifierHead`.

  Args:
    model: AlexNet (either form), ZFNet or any VGG, with `fully_convolutional=False`.
    variables: its variables ({"params": ..., and "batch_stats" for the BN variants}).

  Returns:
    (fcn_model, fcn_variables): the same model with `fully_convolutional=True` and the
    same weights, FC kernels reshaped. `fcn_model.apply(fcn_variables, x)` on an image
    of at least the training size gives class scores [batch, h, w, num_classes]; at the
    training size h = w = 1 and they equal the original logits.
  """
  if getattr(model, "fully_convolutional", None) is not False:
    raise ValueError(f"{type(model).__name__} has no dense head to convolutionalize "
                     "(expected a model with fully_convolutional=False)")
  params = variables["params"]
  if HEAD not in params:
    raise ValueError(f"variables have no {HEAD!r} head; got {sorted(params)}")
  head = dense_to_conv_kernels(params[HEAD], model.head_window)
  fcn_variables = {**variables, "params": {**params, HEAD: head}}
  return model.clone(fully_convolutional=True), fcn_variables
