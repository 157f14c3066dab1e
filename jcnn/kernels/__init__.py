"""Which implementation runs a convolution, a training batch norm or a dense layer over a
map (`flat_dense`): the one decision.

`jcnn.nn.conv2d` and `jcnn.nn.batch_norm` validate their arguments and hand the work
here. Three implementations, each forward and backward, equal to 1e-5:

  "xla"     plain XLA ops (`xla`): `conv_general_dilated` and the normalisation's
            arithmetic. What the jaxpr analyses read; the default off the CPU.
  "onednn"  oneDNN's kernels through XLA FFI calls (`onednn`), float32 on the CPU.
  "banded"  a convolution as one matrix product per kernel row (`banded`).

"auto", the default, takes what was measured fastest (benchmarks/README.md): on the
CPU every float32 groups-1 convolution runs through oneDNN, except a kernel covering its
whole padded width (a dense layer), which runs banded; where oneDNN cannot run or would
not pay (bfloat16, no compiler, several devices and no mesh to split over) the band
takes the thin stride-1 layers it beats XLA on; batch norm in float32 training on a
single device without `axis_name` runs through oneDNN, and so does a float32 dense layer
over a map with up to 1,024 outputs (`flat_dense`). Everything else, and every other
backend, runs XLA's ops.

On a mesh of several CPU devices, oneDNN runs once per device: a step traced under
`jcnn.parallel.traced_on(mesh)` (as the trainer's and evaluators' are) has its
convolutions wrapped in a `shard_map` over the batch, so XLA never gathers a custom
call's operands. Batch norm there stays XLA's, whose statistics are the global batch's.

The one override, for analyses, tests and benchmarks:

  with kernels.use("xla"):     # or "auto", "onednn", "banded"; innermost wins
    jaxpr = jax.make_jaxpr(f)(x)

and, for a whole process, the environment variable JCNN_KERNELS with the same names
(JCNN_KERNELS=xla turns the CPU paths off); `use` takes precedence over it. The choice
is made when a function is traced: a jitted function keeps the one it was traced with.
A forced name applies where the kernel exists — batch norm has no banded form and runs
XLA's under "banded" — and raises ValueError where it cannot run (groups other than 1,
oneDNN off the CPU, outside float32 or unbuilt, oneDNN batch norm across devices).
"""
import contextlib
import contextvars
import os

import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec as P

from jcnn.kernels import banded, onednn, xla
from jcnn.padding import Pads
from jcnn.parallel import DATA_AXIS

NAMES = ("auto", "xla", "onednn", "banded")
_ENV = "JCNN_KERNELS"
_CHOICE = contextvars.ContextVar("jcnn_kernels", default=None)

# The band's rule where oneDNN cannot run, measured on a 2-core AMD EPYC
# (benchmarks/conv_lowering.py, benchmarks/README.md): 1.3-3.6x faster than XLA for
# stride-1 layers with a channel product up to 256 whose band is at most 8x the direct
# work; slower for strided layers and for one input channel into a multiple of 16,
# which XLA:CPU vectorises well.
_BAND_MAX_CHANNEL_PRODUCT = 256
_BAND_MAX_EXTRA_WORK = 8
# `flat_dense` over RoI-pooled 7×7 maps, same machine: oneDNN's convolution saves the
# pooling's flattening (0.4-0.6× the time at 256 outputs, from 128 or 512 channels), but
# XLA's matrix product is the faster product from ~1,024 outputs on 512 channels (VGG-16's
# fc6, 4,096 outputs: 1.25× faster).
_FLAT_DENSE_MAX_FEATURES = 1024


def _checked(name: str, source: str) -> str:
  if name not in NAMES:
    raise ValueError(f"{source} must be one of {', '.join(NAMES)}; got {name!r}")
  return name


@contextlib.contextmanager
def use(name: str):
  """Within it, convolutions and batch norm run as `name` ("auto": the measured choice)."""
  token = _CHOICE.set(_checked(name, "kernels.use's name"))
  try:
    yield
  finally:
    _CHOICE.reset(token)


def requested() -> str:
  """The name in force: the innermost `use`, else $JCNN_KERNELS, else "auto"."""
  name = _CHOICE.get()
  return name if name is not None else _checked(os.environ.get(_ENV) or "auto", f"${_ENV}")


def _onednn_problem(*dtypes) -> str | None:
  """Why oneDNN cannot take arrays of these dtypes here, or None when it can."""
  if jax.default_backend() != "cpu":
    return f"oneDNN runs on the CPU backend only, not {jax.default_backend()}"
  if any(jnp.dtype(d) != jnp.float32 for d in dtypes):
    return f"oneDNN takes float32 only, got {', '.join(str(jnp.dtype(d)) for d in dtypes)}"
  return None if onednn.available() else onednn.unavailable_reason()


def devices_per_call() -> int | None:
  """Over how many devices an op traced here is split: None when that is unknown.

  1 on a single device or inside a `shard_map` (every mesh axis manual); the size of
  the data axis under a context mesh of that one axis (`jcnn.parallel.traced_on`);
  None with several devices and no such mesh, where XLA may place the op anywhere.
  """
  mesh = jax.sharding.get_abstract_mesh()
  if not mesh.empty:
    if set(mesh.manual_axes) == set(mesh.axis_names):
      return 1
    if mesh.axis_names == (DATA_AXIS,):
      return mesh.shape[DATA_AXIS]
  return 1 if jax.device_count() == 1 else None


def _onednn_pays(batch: int | None, *dtypes) -> bool:
  """Where oneDNN can run once per device: measured faster there on every layer.

  `batch` None: an op with no batch to split (batch norm), which must be on one device.
  """
  split = devices_per_call()
  runs_per_device = split == 1 or (batch is not None and split and batch % split == 0)
  return bool(runs_per_device) and _onednn_problem(*dtypes) is None


def _per_device(fn, x: jax.Array, *replicated: jax.Array) -> jax.Array:
  """`fn(x, *replicated)`, with x's batch split over the context mesh (`shard_map`).

  check_vma off: the custom VJPs' cotangents carry no varying-axis types; shard_map
  then sums the replicated operands' cotangents over the devices itself.
  """
  split = devices_per_call()
  if split in (1, None):
    return fn(x, *replicated)
  if x.shape[0] % split:
    raise ValueError(f"the onednn kernel splits the batch over {split} devices; "
                     f"batch {x.shape[0]} does not divide")
  specs = (P(DATA_AXIS),) + (P(),) * len(replicated)
  return jax.shard_map(fn, mesh=jax.sharding.get_abstract_mesh(), in_specs=specs,
                       out_specs=P(DATA_AXIS), check_vma=False)(x, *replicated)


def _band_pays(x_shape, kernel_shape, stride, pads, dilation, against_onednn: bool) -> bool:
  """Whether the band beats oneDNN (`against_onednn`) or else XLA on the CPU.

  oneDNN is faster than the band except where the kernel covers the whole padded width:
  a dense layer, one product per row.
  """
  _, _, width, in_channels = x_shape
  _, kernel_w, _, out_channels = kernel_shape
  padded_w = width + sum(pads[1])
  span_w = dilation[1] * (kernel_w - 1) + 1
  if span_w == padded_w:
    return True
  return (not against_onednn and tuple(stride) == (1, 1)
          and in_channels * out_channels <= _BAND_MAX_CHANNEL_PRODUCT
          and padded_w <= _BAND_MAX_EXTRA_WORK * span_w
          and not (in_channels == 1 and out_channels % 16 == 0))


def conv_implementation(x, kernel, stride: tuple[int, int], pads: Pads,
                        dilation: tuple[int, int], groups: int) -> str:
  """The name of what `conv` runs for these operands: "xla", "onednn" or "banded".

  Args:
    x, kernel: arrays or `jax.ShapeDtypeStruct`s, [batch, height, width, in] and
      [kernel_h, kernel_w, in // groups, out].
    stride, pads, dilation, groups: the geometry as `jcnn.nn.conv2d` resolved it.

  Raises:
    ValueError: a forced name cannot run this convolution.
  """
  name = requested()
  if name == "auto":
    if groups != 1 or jax.default_backend() != "cpu":
      return "xla"
    with_onednn = _onednn_pays(x.shape[0], x.dtype, kernel.dtype)
    if _band_pays(x.shape, kernel.shape, stride, pads, dilation, with_onednn):
      return "banded"
    return "onednn" if with_onednn else "xla"
  if name != "xla" and groups != 1:
    raise ValueError(f"the {name} kernel takes groups=1 only, got groups={groups}")
  problem = _onednn_problem(x.dtype, kernel.dtype) if name == "onednn" else None
  if problem:
    raise ValueError(f"the onednn kernel cannot run this convolution: {problem}")
  return name


def _onednn_conv(x, kernel, stride, pads, dilation) -> jax.Array:
  """oneDNN's convolution, once per device of the context mesh (`_per_device`)."""
  return _per_device(lambda x, k: onednn.conv(x, k, stride, pads, dilation), x, kernel)


def conv(x: jax.Array, kernel: jax.Array, stride: tuple[int, int], pads: Pads,
         dilation: tuple[int, int], groups: int) -> jax.Array:
  """`lax.conv_general_dilated` (NHWC, HWIO, explicit pads) by `conv_implementation`."""
  name = conv_implementation(x, kernel, stride, pads, dilation, groups)
  if name == "onednn":
    return _onednn_conv(x, kernel, stride, pads, dilation)
  if name == "banded":
    return banded.conv(x, kernel, stride, pads, dilation)
  return xla.conv(x, kernel, stride, pads, dilation, groups)


def flat_dense(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """x [n, h, w, c] flattened row-major, times kernel [h·w·c, out]: a dense layer on a map.

  XLA:CPU fuses the flattening into x's producer and then computes that producer per
  element of the flat row, its index arithmetic no longer shared along the channels:
  RoI pooling's gathers run 7× slower so (Faster R-CNN's fc6; benchmarks/README.md).
  oneDNN's convolution with a kernel the size of the map reads x in its own shape; "auto"
  takes it on the CPU in float32 up to `_FLAT_DENSE_MAX_FEATURES` outputs. Elsewhere, and
  under "xla" or "banded", it is a matrix product.
  """
  n, h, w, c = x.shape
  name = requested()
  if name == "onednn" and (problem := _onednn_problem(x.dtype, kernel.dtype)):
    raise ValueError(f"the onednn kernel cannot run this dense layer: {problem}")
  if name == "onednn" or (name == "auto" and kernel.shape[-1] <= _FLAT_DENSE_MAX_FEATURES
                          and _onednn_pays(n, x.dtype, kernel.dtype)):
    map_kernel = kernel.reshape(h, w, c, kernel.shape[-1])
    return _onednn_conv(x, map_kernel, (1, 1), ((0, 0), (0, 0)), (1, 1)).reshape(n, -1)
  return x.reshape(n, -1) @ kernel


def batch_norm_implementation(x, scale, bias, axis_name: str | None) -> str:
  """The name of what `batch_norm_train` runs for these operands: "xla" or "onednn".

  Raises:
    ValueError: oneDNN is forced and cannot run this batch norm.
  """
  name = requested()
  dtypes = (x.dtype, scale.dtype, bias.dtype)
  if name == "auto":
    return "onednn" if axis_name is None and _onednn_pays(None, *dtypes) else "xla"
  if name != "onednn":
    return "xla"
  if axis_name is not None:
    problem = f"it cannot average statistics across devices (axis_name={axis_name!r})"
  elif devices_per_call() not in (1, None):
    problem = "it cannot average statistics across the context mesh's devices"
  else:
    problem = _onednn_problem(*dtypes)
  if problem:
    raise ValueError(f"the onednn kernel cannot run this batch norm: {problem}")
  return name


def batch_norm_train(x: jax.Array, scale: jax.Array, bias: jax.Array, epsilon: float,
                     axis_name: str | None = None
                     ) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Training-mode batch norm by `batch_norm_implementation`.

  Args:
    x: [..., channels], the statistics over all other axes.
    scale, bias: [channels].
    epsilon: added to the variance.
    axis_name: a mapped axis over which the statistics are averaged.

  Returns:
    (y shaped like x, batch mean, biased batch variance).
  """
  if batch_norm_implementation(x, scale, bias, axis_name) == "onednn":
    # oneDNN normalises [n, h, w, c]; any other rank folds into n.
    y, mean, var = onednn.batch_norm_train(
        x if x.ndim == 4 else x.reshape(-1, 1, 1, x.shape[-1]), scale, bias, epsilon)
    return y.reshape(x.shape), mean, var
  return xla.batch_norm_train(x, scale, bias, epsilon, axis_name)
