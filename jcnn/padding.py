"""Argument forms shared by convolution and pooling: pairs and padding."""
from collections.abc import Sequence
from numbers import Integral

from jax import lax

Padding = str | int | Sequence[int] | Sequence[Sequence[int]]
# Explicit padding, as `explicit_padding` resolves it: ((top, bottom), (left, right)).
Pads = tuple[tuple[int, int], tuple[int, int]]


def to_pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
  """Reads an int or a (height, width) pair as a pair of positive ints."""
  pair = (value, value) if isinstance(value, Integral) else value
  if not _is_int_pair(pair) or min(pair) < 1:
    raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}")
  return int(pair[0]), int(pair[1])


def _is_int_pair(value) -> bool:
  """Whether `value` is a sequence of two ints (NumPy ints included, from configs)."""
  return (isinstance(value, Sequence) and len(value) == 2
          and all(isinstance(v, Integral) for v in value))


def spatial_padding(padding: Padding) -> str | Pads:
  """Reads the padding forms we accept into what `jax.lax` takes.

  Args:
    padding: "SAME" or "VALID" (any case); an int p for p on every side; a pair
      (ph, pw) for ph rows above and below, pw columns left and right; or
      ((top, bottom), (left, right)).

  Returns:
    "SAME", "VALID" or ((top, bottom), (left, right)).
  """
  if isinstance(padding, str):
    if padding.upper() not in ("SAME", "VALID"):
      raise ValueError(f"padding string must be 'SAME' or 'VALID', got {padding!r}")
    return padding.upper()
  if isinstance(padding, Integral):
    pads = ((padding, padding), (padding, padding))
  elif _is_int_pair(padding):
    pads = ((padding[0], padding[0]), (padding[1], padding[1]))
  elif (isinstance(padding, Sequence) and len(padding) == 2
        and all(_is_int_pair(p) for p in padding)):
    pads = tuple(padding)
  else:
    raise ValueError("padding must be 'SAME', 'VALID', an int, (ph, pw) or "
                     f"((top, bottom), (left, right)), got {padding!r}")
  if any(p < 0 for pair in pads for p in pair):
    raise ValueError(f"padding must be non-negative, got {padding!r}")
  return tuple((int(lo), int(hi)) for lo, hi in pads)


def explicit_padding(padding: Padding, spatial_shape: Sequence[int],
                     kernel_shape: Sequence[int], stride: tuple[int, int],
                     dilation: tuple[int, int] = (1, 1)) -> tuple[tuple[int, int], tuple[int, int]]:
  """`spatial_padding`, with "SAME" and "VALID" resolved to ((top, bottom), (left, right))
  for an input of `spatial_shape` (height, width) and a kernel of `kernel_shape`
  (its first two entries), as `lax.conv_general_dilated` would pad."""
  pads = spatial_padding(padding)
  if not isinstance(pads, str):
    return pads
  window = [d * (k - 1) + 1 for d, k in zip(dilation, kernel_shape[:2])]
  return tuple((int(lo), int(hi)) for lo, hi in
               lax.padtype_to_pads(tuple(spatial_shape), window, stride, pads))


def output_size(spatial_shape: Sequence[int], kernel_shape: Sequence[int],
                stride: tuple[int, int], pads: tuple[tuple[int, int], tuple[int, int]],
                dilation: tuple[int, int] = (1, 1)) -> tuple[int, int]:
  """(height, width) of a convolution's output for explicit `pads`, as XLA computes it."""
  return tuple((size + lo + hi - d * (k - 1) - 1) // s + 1 for size, k, s, (lo, hi), d
               in zip(spatial_shape, kernel_shape[:2], stride, pads, dilation))


def ceil_mode_padding(spatial_shape: Sequence[int], window: int,
                      stride: int) -> tuple[tuple[int, int], tuple[int, int]]:
  """The bottom/right padding with which VALID pooling of `spatial_shape` (height,
  width) is PyTorch's (and Caffe's) `ceil_mode=True` without padding: a last, partial
  window wherever the windows do not fit exactly. The padding must never win (max
  pooling's -inf)."""
  def pad(size: int) -> int:
    out = -(-(size - window) // stride) + 1
    return (out - 1) * stride + window - size

  return tuple((0, pad(size)) for size in spatial_shape)


def check_nhwc(x, name: str = "x") -> None:
  """Raises unless `x` is 4-D, as [batch, height, width, channels]."""
  if x.ndim != 4:
    raise ValueError(f"{name} must be 4-D [batch, height, width, channels], "
                     f"got shape {x.shape}")
