"""Convolution and batch norm computed by oneDNN through XLA's FFI: the CPU fast path.

XLA:CPU runs the convolutions of ResNet-sized layers (16-64 channels, 3×3) 2-4× slower
than oneDNN, the library PyTorch's CPU kernels use; the weight gradient, which XLA
computes over transposed copies of the activations, loses most. And XLA splits batch
norm in training over several single-threaded passes, fused with whatever surrounds it.
`conv` and `batch_norm_train` hand both, forward and backward, to oneDNN: XLA FFI custom
calls (onednn.cc) that read and write XLA's own NHWC buffers, no copies.
`jcnn.kernels` picks this path on a single CPU device in float32; gradients of every
order stay exact (each call's derivative is made of the others, or of the plain JAX
formula).

The handlers are compiled on first use, against the oneDNN wheel (`onednn-cpu-gomp`,
`onednn-devel-cpu-gomp`) and jaxlib's FFI headers, into jcnn's cache folder; a machine
without them, or without a C++ compiler, keeps XLA's own ops (`available()` warns why).
"""
import ctypes
import functools
import hashlib
import importlib.metadata
import os
import pathlib
import platform
import shutil
import subprocess
import tempfile
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from jcnn import paths
from jcnn.padding import Pads, output_size

_SOURCE = pathlib.Path(__file__).with_name("onednn.cc")
_TARGETS = ("JcnnConvForward", "JcnnConvInputGrad", "JcnnConvKernelGrad",
            "JcnnNormForward", "JcnnNormBackward")


class Unavailable(RuntimeError):
  """oneDNN's kernels cannot run here; the message says why."""


def _wheel_file(dist: str, name: str) -> pathlib.Path:
  try:
    files = importlib.metadata.files(dist) or []
  except importlib.metadata.PackageNotFoundError:
    raise Unavailable(f"the {dist} package is not installed") from None
  for file in files:
    if file.name == name:
      return pathlib.Path(file.locate()).resolve()
  raise Unavailable(f"{dist} has no {name}")


def _build() -> pathlib.Path:
  """Compiles onednn.cc once per source, jaxlib and oneDNN; returns the library."""
  if platform.system() != "Linux" or platform.machine() != "x86_64":
    raise Unavailable(f"the oneDNN wheel is for Linux x86_64, not "
                      f"{platform.system()} {platform.machine()}")
  header = _wheel_file("onednn-devel-cpu-gomp", "dnnl.hpp")
  library = _wheel_file("onednn-cpu-gomp", "libdnnl.so.3")
  compiler = shutil.which(os.environ.get("CXX", "g++"))
  if compiler is None:
    raise Unavailable("no C++ compiler (g++, or $CXX) to build the oneDNN handlers")
  command = [compiler, "-O2", "-std=c++17", "-shared", "-fPIC", "-w",
             f"-I{header.parent}", f"-I{jax.ffi.include_dir()}", str(_SOURCE),
             str(library), f"-Wl,-rpath,{library.parent}"]
  key = hashlib.sha256(_SOURCE.read_bytes() + " ".join(command).encode()
                       + jax.lib.__version__.encode()).hexdigest()[:16]
  target = paths.cache_dir() / "onednn" / key / "libjcnn_onednn.so"
  if target.exists():
    return target
  target.parent.mkdir(parents=True, exist_ok=True)
  # Build beside the target and rename: a concurrent process sees all of it or none.
  with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
    built = pathlib.Path(tmp) / target.name
    result = subprocess.run(command + ["-o", str(built)], capture_output=True, text=True)
    if result.returncode:
      raise Unavailable(f"compiling {_SOURCE.name} failed:\n{result.stderr[-2000:]}")
    os.replace(built, target)
  return target


@functools.cache
def _library() -> ctypes.CDLL:
  """Builds and loads the handlers, and registers them with XLA (once per process)."""
  library = ctypes.CDLL(str(_build()))
  for name in _TARGETS:
    jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(getattr(library, name)),
                                platform="cpu")
  library.JcnnOnednnImplementations.restype = ctypes.c_char_p
  return library


@functools.cache
def unavailable_reason() -> str | None:
  """Why the oneDNN path cannot run in this process, or None when it can."""
  try:
    _library()
  except (Unavailable, OSError) as error:  # OSError: an unwritable cache, a broken .so
    return str(error)
  return None


@functools.cache
def available() -> bool:
  """Whether the oneDNN path can run in this process; warns once with the reason if not."""
  reason = unavailable_reason()
  if reason is not None:
    warnings.warn(f"jcnn: XLA's own convolutions and batch norm run on the CPU: {reason}",
                  stacklevel=2)
  return reason is None


def _attrs(stride, pads, dilation) -> dict:
  return {"stride": np.asarray(stride, np.int64),
          "padding": np.asarray([*pads[0], *pads[1]], np.int64),
          "dilation": np.asarray(dilation, np.int64)}


def _call(target: str, shape, dtype, a, b, attrs):
  return jax.ffi.ffi_call(target, jax.ShapeDtypeStruct(shape, dtype),
                          vmap_method="sequential")(a, b, **attrs)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def conv(x: jax.Array, kernel: jax.Array, stride: tuple[int, int], pads: Pads,
         dilation: tuple[int, int]) -> jax.Array:
  """`lax.conv_general_dilated` (NHWC, HWIO, explicit pads), computed by oneDNN.

  Gradients of any order: each of the three calls' gradients is made of the other two.
  """
  _library()
  out_h, out_w = output_size(x.shape[1:3], kernel.shape, stride, pads, dilation)
  return _call("JcnnConvForward", (x.shape[0], out_h, out_w, kernel.shape[-1]), x.dtype,
               x, kernel, _attrs(stride, pads, dilation))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def _input_grad(dy, kernel, x_shape, stride, pads, dilation):
  return _call("JcnnConvInputGrad", x_shape, dy.dtype, dy, kernel,
               _attrs(stride, pads, dilation))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def _kernel_grad(x, dy, kernel_shape, stride, pads, dilation):
  return _call("JcnnConvKernelGrad", kernel_shape, x.dtype, x, dy,
               _attrs(stride, pads, dilation))


def _conv_fwd(x, kernel, stride, pads, dilation):
  return conv(x, kernel, stride, pads, dilation), (x, kernel)


def _conv_bwd(stride, pads, dilation, saved, dy):
  x, kernel = saved
  return (_input_grad(dy, kernel, x.shape, stride, pads, dilation),
          _kernel_grad(x, dy, kernel.shape, stride, pads, dilation))


def _input_grad_fwd(dy, kernel, x_shape, stride, pads, dilation):
  return _input_grad(dy, kernel, x_shape, stride, pads, dilation), (dy, kernel)


def _input_grad_bwd(x_shape, stride, pads, dilation, saved, g):
  # dx = conv^T(dy; kernel), linear in each: its adjoints are conv and the kernel grad.
  dy, kernel = saved
  return (conv(g, kernel, stride, pads, dilation),
          _kernel_grad(g, dy, kernel.shape, stride, pads, dilation))


def _kernel_grad_fwd(x, dy, kernel_shape, stride, pads, dilation):
  return _kernel_grad(x, dy, kernel_shape, stride, pads, dilation), (x, dy)


def _kernel_grad_bwd(kernel_shape, stride, pads, dilation, saved, g):
  x, dy = saved
  return (_input_grad(dy, g, x.shape, stride, pads, dilation),
          conv(x, g, stride, pads, dilation))


conv.defvjp(_conv_fwd, _conv_bwd)
_input_grad.defvjp(_input_grad_fwd, _input_grad_bwd)
_kernel_grad.defvjp(_kernel_grad_fwd, _kernel_grad_bwd)


def implementations(x_shape, kernel_shape, stride, pads, dilation) -> str:
  """oneDNN's kernels for this convolution: "forward | input grad | kernel grad"."""
  n, h, w, in_channels = x_shape
  kh, kw, _, out_channels = kernel_shape
  out_h, out_w = output_size(x_shape[1:3], kernel_shape, stride, pads, dilation)
  geometry = np.asarray([n, h, w, in_channels, out_h, out_w, out_channels, kh, kw,
                         *stride, *pads[0], *pads[1], *dilation], np.int64)
  return _library().JcnnOnednnImplementations(
      geometry.ctypes.data_as(ctypes.POINTER(ctypes.c_int64))).decode()


def _vector(x):
  return jax.ShapeDtypeStruct((x.shape[-1],), jnp.float32)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def batch_norm_train(x: jax.Array, scale: jax.Array, bias: jax.Array, epsilon: float
                     ) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Batch norm in training mode over [n, h, w, c]: (y, batch mean, biased batch variance).

  y = (x - mean) / sqrt(var + epsilon) * scale + bias, the statistics over n, h, w, in
  one oneDNN pass each way (the variance as E[(x - mean)^2]).
  """
  _library()
  return jax.ffi.ffi_call("JcnnNormForward", (jax.ShapeDtypeStruct(x.shape, x.dtype),
                                             _vector(x), _vector(x)),
                          vmap_method="sequential")(x, scale, bias,
                                                    epsilon=np.float32(epsilon))


def _norm_fwd(x, scale, bias, epsilon):
  # symbolic_zeros: the arguments come wrapped with whether they are differentiated.
  x, scale, bias = x.value, scale.value, bias.value
  y, mean, var = batch_norm_train(x, scale, bias, epsilon)
  return (y, mean, var), (x, scale, mean, var)


def _zero(cotangent) -> bool:
  return isinstance(cotangent, jax.custom_derivatives.SymbolicZero)


def _norm_bwd(epsilon, saved, cotangents):
  x, scale, mean, var = saved
  dy, dmean, dvar = cotangents
  if _zero(dy):
    dy = jnp.zeros_like(x)
  dx, dscale, dbias = _norm_backward(x, dy, scale, mean, var, epsilon)
  # The statistics' own cotangents: symbolic zeros when they only update running
  # averages, as in training, so this costs nothing there.
  count = x.size // x.shape[-1]
  if not _zero(dmean):
    dx = dx + dmean / count
  if not _zero(dvar):
    dx = dx + dvar * (2 / count) * (x - mean)
  return dx, dscale, dbias


def _norm_backward_formula(x, dy, scale, mean, var, epsilon):
  """What JcnnNormBackward computes, in JAX: the derivative of its derivative."""
  axes = tuple(range(x.ndim - 1))
  inv_std = jax.lax.rsqrt(var + epsilon)
  x_hat = (x - mean) * inv_std
  dbias = dy.sum(axes)
  dscale = (dy * x_hat).sum(axes)
  count = x.size // x.shape[-1]
  dx = (scale * inv_std / count) * (count * dy - dbias - x_hat * dscale)
  return dx, dscale, dbias


@functools.partial(jax.custom_vjp, nondiff_argnums=(5,))
def _norm_backward(x, dy, scale, mean, var, epsilon):
  return jax.ffi.ffi_call("JcnnNormBackward", (jax.ShapeDtypeStruct(x.shape, x.dtype),
                                              _vector(x), _vector(x)),
                          vmap_method="sequential")(x, dy, scale, mean, var,
                                                    epsilon=np.float32(epsilon))


def _norm_backward_fwd(x, dy, scale, mean, var, epsilon):
  return _norm_backward(x, dy, scale, mean, var, epsilon), (x, dy, scale, mean, var)


def _norm_backward_bwd(epsilon, saved, cotangents):
  _, vjp = jax.vjp(lambda *a: _norm_backward_formula(*a, epsilon), *saved)
  return vjp(cotangents)


batch_norm_train.defvjp(_norm_fwd, _norm_bwd, symbolic_zeros=True)
_norm_backward.defvjp(_norm_backward_fwd, _norm_backward_bwd)
