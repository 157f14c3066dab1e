"""Argument forms shared by convolution and pooling: pairs and padding."""
from collections.abc import Sequence

Padding = str | int | Sequence[int] | Sequence[Sequence[int]]


def to_pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
  """Reads an int or a (height, width) pair as a pair of positive ints."""
  pair = (value, value) if isinstance(value, int) else tuple(value)
  if len(pair) != 2 or not all(isinstance(v, int) and v >= 1 for v in pair):
    raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}")
  return pair


def spatial_padding(padding: Padding) -> str | tuple[tuple[int, int], tuple[int, int]]:
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
  if isinstance(padding, int):
    pads = ((padding, padding), (padding, padding))
  elif len(padding) == 2 and all(isinstance(p, int) for p in padding):
    pads = ((padding[0], padding[0]), (padding[1], padding[1]))
  elif len(padding) == 2 and all(
      not isinstance(p, int) and len(p) == 2 and all(isinstance(q, int) for q in p)
      for p in padding):
    pads = (tuple(padding[0]), tuple(padding[1]))
  else:
    raise ValueError("padding must be 'SAME', 'VALID', an int, (ph, pw) or "
                     f"((top, bottom), (left, right)), got {padding!r}")
  if any(p < 0 for pair in pads for p in pair):
    raise ValueError(f"padding must be non-negative, got {padding!r}")
  return pads


def check_nhwc(x, name: str = "x") -> None:
  """Raises unless `x` is 4-D, as [batch, height, width, channels]."""
  if x.ndim != 4:
    raise ValueError(f"{name} must be 4-D [batch, height, width, channels], "
                     f"got shape {x.shape}")
