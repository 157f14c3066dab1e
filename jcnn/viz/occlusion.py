"""Occlusion sensitivity (Zeiler & Fergus 2014, Fig. 7): slide a grey square, watch the net.

Does the classifier look at the object or at its surroundings? Each map holds, for the
square at one place, the true class's probability, the most probable class, and the
total activation of the feature map that fires strongest on the unoccluded image. The
square slides with a stride and stays inside the image (captum's sliding windows);
"grey" is the fill value, the dataset mean (0 after jcnn's normalisation). Occluded
copies are built and scored in chunks under `vmap`, not one Python call per position.
"""
import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass
class OcclusionMaps:
  """Maps over the square's positions [rows, cols] (top-left corners `rows` × `cols`).

  Attributes:
    true_prob: the true class's probability with the square there.
    top_class, top_prob: the most probable class and its probability.
    feature: total activation of `channel` (None without a feature function).
    channel: the feature map with the strongest single activation on the clean image.
    clean_prob: the true class's probability without the square.
  """
  rows: np.ndarray
  cols: np.ndarray
  size: int
  true_prob: np.ndarray
  top_class: np.ndarray
  top_prob: np.ndarray
  feature: np.ndarray | None
  channel: int | None
  clean_prob: float

  def as_dict(self) -> dict:
    return {"rows": self.rows.tolist(), "cols": self.cols.tolist(), "size": self.size,
            "true_prob": self.true_prob.tolist(), "top_class": self.top_class.tolist(),
            "top_prob": self.top_prob.tolist(), "channel": self.channel,
            "feature": None if self.feature is None else self.feature.tolist(),
            "clean_prob": self.clean_prob}


def corners(length: int, size: int, stride: int) -> np.ndarray:
  """Top-left positions of a square of `size` sliding by `stride` inside `length`."""
  if not 1 <= size <= length:
    raise ValueError(f"occluder size {size} must be between 1 and the image side {length}")
  if stride < 1:
    raise ValueError(f"occluder stride must be >= 1, got {stride}")
  return np.arange(0, length - size + 1, stride)


def occlude(x: jax.Array, top: jax.Array, left: jax.Array, size: int,
            fill: float) -> jax.Array:
  """x [H, W, C] with the size × size square at (top, left) set to `fill`."""
  rows = jnp.arange(x.shape[0])[:, None]
  cols = jnp.arange(x.shape[1])[None, :]
  inside = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
  return jnp.where(inside[..., None], jnp.asarray(fill, x.dtype), x)


def occlusion_maps(logits_fn: Callable, variables, x: np.ndarray, label: int, *, size: int,
                   stride: int, fill: float = 0.0, feature_fn: Callable | None = None,
                   chunk: int = 64) -> OcclusionMaps:
  """Occlusion maps of one image.

  Args:
    logits_fn: (variables, x [B, H, W, C]) -> logits [B, classes].
    variables: the model's variables.
    x: one image [H, W, C] as the model takes it (normalised).
    label: its true class.
    size, stride: the square's side and step, in pixels.
    fill: the square's value (the dataset mean is 0 once normalised).
    feature_fn: optional (variables, x) -> feature maps [B, h, w, K].
    chunk: occluded images scored per call.
  """
  x = jnp.asarray(x)
  if x.ndim != 3:
    raise ValueError(f"occlusion takes one image [H, W, C], got shape {tuple(x.shape)}")
  rows, cols = corners(x.shape[0], size, stride), corners(x.shape[1], size, stride)
  tops, lefts = (a.ravel() for a in np.meshgrid(rows, cols, indexing="ij"))

  channel = None
  if feature_fn is not None:
    clean = jax.jit(feature_fn)(variables, x[None])[0]
    channel = int(jnp.argmax(jnp.max(clean, axis=(0, 1))))

  @jax.jit
  def score(variables, top, left):
    images = jax.vmap(lambda t, l: occlude(x, t, l, size, fill))(top, left)
    probs = jax.nn.softmax(logits_fn(variables, images).astype(jnp.float32))
    out = {"true": probs[:, label], "top": jnp.argmax(probs, -1), "top_prob": probs.max(-1)}
    if feature_fn is not None:
      out["feature"] = feature_fn(variables, images)[..., channel].sum(axis=(1, 2))
    return out

  chunk = max(1, min(chunk, len(tops)))
  parts = []
  for start in range(0, len(tops), chunk):
    top, left = tops[start:start + chunk], lefts[start:start + chunk]
    pad = chunk - len(top)  # one shape for every chunk: one compilation
    result = score(variables, jnp.asarray(np.pad(top, (0, pad))), jnp.asarray(np.pad(left, (0, pad))))
    parts.append({k: np.asarray(v)[:len(top)] for k, v in result.items()})
  joined = {k: np.concatenate([p[k] for p in parts]).reshape(len(rows), len(cols))
            for k in parts[0]}
  logits = jax.jit(logits_fn)(variables, x[None]).astype(jnp.float32)
  clean_prob = float(jax.nn.softmax(logits)[0, label])
  return OcclusionMaps(rows, cols, size, joined["true"], joined["top"], joined["top_prob"],
                       joined.get("feature"), channel, clean_prob)
