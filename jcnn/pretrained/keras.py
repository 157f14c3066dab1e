"""Keras Applications' ImageNet classifiers -> the zoo: VGG16, VGG19, ResNet50/101/152,
InceptionV3, MobileNet (`MAPS`, by zoo name).

Keras' kernels are already [kh, kw, in, out] and its Flatten reads (H, W, C), as the zoo
does. Where the forms differ, the port keeps the outputs:
- Inputs: Keras' "caffe" preprocessing (BGR, minus the ImageNet mean in 0-255 pixels, no
  scaling) is the zoo's RGB normalisation with `CAFFE_MEAN` / 255 and std 1/255, and the
  first convolution's input channels reversed (RGB -> BGR).
- ResNet (v1): the stride sits in each stage's first 1×1 (`stride_in_1x1=True`); every
  convolution has a bias, and each one feeds a batch norm, which subtracts it again: the
  bias is folded into the norm's running mean (mean - bias), exactly, in training too;
  its batch norms divide by sqrt(var + 1.001e-5): folded into the variance.
- InceptionV3 and MobileNet take "tf" preprocessing, RGB in [-1, 1]. InceptionV3's
  layers are unnamed (conv2d_<n>, batch_normalization_<n>, numbered as they were made,
  from wherever the session's count stood): they are taken in that order. Its batch
  norms have no scale (scale=False): the zoo's is 1. It has no auxiliary classifier
  (`aux_logits=False`).
- MobileNet pads its strided depthwise convolutions by one at the bottom and right
  (`keras_padding=True`); a depthwise kernel [3, 3, channels, 1] is the zoo's grouped
  one [3, 3, 1, channels]; its 1×1 convolution classifier is the zoo's dense layer; its
  batch norms' epsilon (1e-3) is folded into the variance.
- The classifier's softmax is not part of the zoo model: it returns the logits.

Files with a model config (`.keras`, `model.save`'s `.h5`) are checked against it: every
layer must be of a kind the network has, channels last, with the strides the map
expects, and each batch norm's epsilon is read from it.
"""
import functools
import re

import numpy as np

from jcnn import models
from jcnn.data.stats import INCEPTION_MEAN, INCEPTION_STD
from jcnn.models import mobilenet, vgg
from jcnn.models.convolutionalize import HEAD
from jcnn.pretrained.convert import INCEPTION_V3_UNITS, Map, Tensors, Variables

# keras.applications.imagenet_utils' "caffe" mode: the mean pixel in 0-255, as RGB.
CAFFE_MEAN = (123.68, 116.779, 103.939)
CAFFE_STD = (1.0, 1.0, 1.0)
RESNET_BN_EPSILON = 1.001e-5
# BatchNormalization's default, which InceptionV3 and MobileNet keep.
BN_EPSILON = 1e-3

# The layer kinds of these networks; any other in a file's config is refused.
_KNOWN = {"InputLayer", "Conv2D", "DepthwiseConv2D", "BatchNormalization", "Activation",
          "ReLU", "Add", "Concatenate", "ZeroPadding2D", "MaxPooling2D", "AveragePooling2D",
          "GlobalAveragePooling2D", "Flatten", "Reshape", "Dense", "Dropout"}


def check_config(t: Tensors) -> None:
  """Refuses a config with a layer of an unknown kind, or channels first."""
  for name, layer in t.layers.items():
    if layer["class_name"] not in _KNOWN:
      raise ValueError(f"{t.path}: layer {name!r} is a {layer['class_name']}, a kind "
                       f"{t.source} does not have")
    if layer["config"].get("data_format", "channels_last") != "channels_last":
      raise ValueError(f"{t.path}: layer {name!r} is channels first; the zoo reads "
                       "channels last (save the model with channels_last)")


def expect(t: Tensors, layer: str, **fields) -> None:
  """Refuses a config whose `layer` has other values of `fields` (e.g. strides)."""
  if layer not in t.layers:
    return
  for field, value in fields.items():
    found = t.layers[layer]["config"].get(field)
    if found is not None and np.any(np.asarray(found) != value):
      raise ValueError(f"{t.path}: layer {layer!r} has {field}={found}, {t.source} "
                       f"{value}")


def conv(t: Tensors, v: Variables, src: str, dst: str, bias: bool = True,
         bgr_input: bool = False) -> None:
  kernel = t.take(f"{src}/0")
  v.set(f"params/{dst}/kernel", kernel[:, :, ::-1] if bgr_input else kernel, f"{src}/0")
  if bias:
    v.set(f"params/{dst}/bias", t.take(f"{src}/1"), f"{src}/1")


def dense(t: Tensors, v: Variables, src: str, dst: str) -> None:
  v.set(f"params/{dst}/kernel", t.take(f"{src}/0"), f"{src}/0")
  v.set(f"params/{dst}/bias", t.take(f"{src}/1"), f"{src}/1")


def batch_norm(t: Tensors, v: Variables, src: str, dst: str, epsilon: float,
               bias: np.ndarray | None = None) -> None:
  """BatchNormalization `src` as the zoo's `dst`, with the epsilon of the file's config
  where it has one (else `epsilon`). Without a scale (scale=False: three weights, or the
  config says so) the zoo's is 1; `bias`, that of the convolution before it, is folded
  into the running mean."""
  config = t.layers.get(src, {}).get("config", {})
  scaled = config.get("scale", t.has(f"{src}/3"))
  weights = [t.take(f"{src}/{i}") for i in range(4 if scaled else 3)]
  gamma = weights.pop(0) if scaled else np.ones_like(weights[0])
  beta, mean, var = weights
  if bias is not None:
    mean = mean.astype(np.float64) - bias
  v.batch_norm(dst, scale=gamma, bias=beta, mean=mean, var=var,
               epsilon=config.get("epsilon", epsilon), origin=src)


def conv_bn(t: Tensors, v: Variables, src: str, dst_conv: str, dst_bn: str,
            epsilon: float, bgr_input: bool = False) -> None:
  """Keras' `<src>_conv` (with bias) and `<src>_bn` as a bias-free conv and a norm."""
  conv(t, v, f"{src}_conv", dst_conv, bias=False, bgr_input=bgr_input)
  bias = t.take(f"{src}_conv/1").astype(np.float64)
  batch_norm(t, v, f"{src}_bn", dst_bn, epsilon, bias)


def numbered(t: Tensors, kind: str) -> list[str]:
  """The unnamed layers `kind` ("conv2d": conv2d, conv2d_1, ...) with weights, in the
  order Keras made them."""
  pattern = re.compile(rf"{kind}(?:_(\d+))?/0")
  found = {}
  for name in t.left():
    match = pattern.fullmatch(name)
    if match:
      found[int(match.group(1) or 0)] = name[:-len("/0")]
  return [found[n] for n in sorted(found)]


def _vgg(name: str, t: Tensors, v: Variables) -> None:
  check_config(t)
  for stage, layers in enumerate(vgg.CONFIGS[models.create(name).config], start=1):
    for i in range(1, len(layers) + 1):
      conv(t, v, f"block{stage}_conv{i}", f"conv{stage}_{i}", bgr_input=stage == i == 1)
  for src, dst in (("fc1", "fc6"), ("fc2", "fc7"), ("predictions", "fc8")):
    dense(t, v, src, f"{HEAD}/{dst}")


def _resnet(name: str, t: Tensors, v: Variables) -> None:
  check_config(t)
  net = models.create(name)
  conv_bn(t, v, "conv1", "conv1", "bn1", RESNET_BN_EPSILON, bgr_input=True)
  for i, size in enumerate(net.stage_sizes):
    stride = 1 if i == 0 else 2
    for j in range(size):
      src, dst = f"conv{i + 2}_block{j + 1}", f"stage{i + 1}_block{j + 1}"
      expect(t, f"{src}_1_conv", strides=stride if j == 0 else 1)
      expect(t, f"{src}_2_conv", strides=1)
      for k in (1, 2, 3):
        conv_bn(t, v, f"{src}_{k}", f"{dst}/conv{k}", f"{dst}/bn{k}", RESNET_BN_EPSILON)
      if j == 0:
        expect(t, f"{src}_0_conv", strides=stride)
        conv_bn(t, v, f"{src}_0", f"{dst}/shortcut_conv", f"{dst}/shortcut_bn",
                RESNET_BN_EPSILON)
  dense(t, v, "predictions", "fc")


def _inception_v3(t: Tensors, v: Variables) -> None:
  check_config(t)
  convs, norms = numbered(t, "conv2d"), numbered(t, "batch_normalization")
  if not len(convs) == len(norms) == len(INCEPTION_V3_UNITS):
    raise ValueError(f"{t.path}: {len(convs)} convolutions and {len(norms)} batch norms "
                     f"named as Keras numbers them (conv2d_<n>, batch_normalization_<n>); "
                     f"{t.source} has {len(INCEPTION_V3_UNITS)} of each")
  for unit, conv_name, norm_name in zip(INCEPTION_V3_UNITS, convs, norms):
    conv(t, v, conv_name, f"{unit}/conv", bias=False)
    batch_norm(t, v, norm_name, f"{unit}/bn", BN_EPSILON)
  dense(t, v, "predictions", "fc")


def _mobilenet(t: Tensors, v: Variables) -> None:
  check_config(t)
  conv(t, v, "conv1", "conv1", bias=False)
  batch_norm(t, v, "conv1_bn", "conv1_bn", BN_EPSILON)
  for i, (_, strides) in enumerate(mobilenet.BLOCKS, start=1):
    dw = f"conv_dw_{i}"
    expect(t, dw, strides=strides, depth_multiplier=1)
    if strides == 2:
      expect(t, f"conv_pad_{i}", padding=((0, 1), (0, 1)))
    kernel = t.take(f"{dw}/0")
    v.set(f"params/{dw}/kernel", kernel.transpose(0, 1, 3, 2), f"{dw}/0", kernel.shape)
    batch_norm(t, v, f"{dw}_bn", f"{dw}_bn", BN_EPSILON)
    conv(t, v, f"conv_pw_{i}", f"conv_pw_{i}", bias=False)
    batch_norm(t, v, f"conv_pw_{i}_bn", f"conv_pw_{i}_bn", BN_EPSILON)
  kernel = t.take("conv_preds/0")  # [1, 1, 1024, classes]
  v.set("params/preds/kernel", kernel.reshape(-1, kernel.shape[-1]), "conv_preds/0",
        kernel.shape)
  v.set("params/preds/bias", t.take("conv_preds/1"), "conv_preds/1")


def _map(source: str, model: str, build, mean=tuple(m / 255 for m in CAFFE_MEAN),
         std=tuple(s / 255 for s in CAFFE_STD), **kwargs) -> Map:
  return Map(f"keras {source}", model, build, mean, std, kwargs=tuple(kwargs.items()))


MAPS: dict[str, Map] = {
    "vgg16": _map("VGG16", "vgg16", functools.partial(_vgg, "vgg16")),
    "vgg19": _map("VGG19", "vgg19", functools.partial(_vgg, "vgg19")),
    **{f"resnet{depth}": _map(f"ResNet{depth}", f"resnet{depth}",
                              functools.partial(_resnet, f"resnet{depth}"), stride_in_1x1=True)
       for depth in (50, 101, 152)},
    "inception_v3": _map("InceptionV3", "inception_v3", _inception_v3, INCEPTION_MEAN,
                         INCEPTION_STD, aux_logits=False),
    "mobilenet_v1": _map("MobileNet", "mobilenet_v1", _mobilenet, INCEPTION_MEAN,
                         INCEPTION_STD, keras_padding=True),
}
