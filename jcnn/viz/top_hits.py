"""Each feature map's strongest activations over a dataset, the patches under them, and
their deconvnet projections (Zeiler & Fergus 2014, Fig. 2: "top 9 activations").

A hit is one image's strongest activation of a channel (its maximum over positions),
so a channel's k hits come from k different images. Its patch is the exact receptive
field of that position (`jcnn.analysis.receptive_field`), padded with the fill value
where the field leaves the image. The check the deep-visualization toolbox makes is
made here too, and strictly: the patch alone, on a blank canvas at its place, must
give the recorded activation again — true when the field is right, whatever lies
outside it.
"""
import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jcnn.analysis import receptive_field
from jcnn.analysis.rf_table import FeatureBox, ReceptiveFieldTable, feature_box
from jcnn.viz.backprojection import Backprojector, keep_units


@dataclasses.dataclass
class TopActivations:
  """The k strongest hits of each channel, strongest first.

  Attributes:
    values: [channels, k] activations.
    images: [channels, k] indices into the images searched.
    positions: [channels, k, 2] (row, column) in the feature map.
  """
  values: np.ndarray
  images: np.ndarray
  positions: np.ndarray

  @property
  def k(self) -> int:
    return self.values.shape[1]


def top_activations(fn: Callable, variables, images: np.ndarray, k: int = 9,
                    batch_size: int = 256) -> TopActivations:
  """The top-k hits of every channel of `fn` over `images`.

  Args:
    fn: feature function (variables, x [B, H, W, C]) -> feature maps [B, h, w, K].
    variables: its variables.
    images: [N, H, W, C] as the model takes them; N >= k.
    k: hits kept per channel.
    batch_size: images per call.
  """
  if len(images) < k:
    raise ValueError(f"top-{k} needs at least {k} images, got {len(images)}")

  @jax.jit
  def strongest(variables, x):
    y = fn(variables, x)
    flat = y.reshape(y.shape[0], -1, y.shape[-1])
    return flat.max(axis=1), flat.argmax(axis=1), y.shape[1:3]

  values, where = [], []
  for start in range(0, len(images), batch_size):
    v, w, shape = strongest(variables, jnp.asarray(images[start:start + batch_size]))
    values.append(np.asarray(v))
    where.append(np.asarray(w))
  values, where = np.concatenate(values).T, np.concatenate(where).T  # [K, N]
  order = np.argsort(-values, axis=1, kind="stable")[:, :k]
  top_where = np.take_along_axis(where, order, axis=1)
  width = int(shape[1])
  positions = np.stack([top_where // width, top_where % width], axis=-1)
  return TopActivations(np.take_along_axis(values, order, axis=1), order, positions)


def field_table(fn: Callable, variables, image_shape: tuple) -> ReceptiveFieldTable:
  """The receptive fields of `fn(variables, x)` for one image of `image_shape`."""
  x = jax.ShapeDtypeStruct((1, *image_shape), jnp.float32)
  return receptive_field(fn, x, variables=variables)


def cut_patch(image: np.ndarray, box: FeatureBox, fill: float = 0.0) -> np.ndarray:
  """The pixels under `box` [box_h, box_w, C], `fill` where it leaves the image."""
  b, c = box.box, box.clipped
  patch = np.full((b.bottom - b.top, b.right - b.left, image.shape[-1]), fill, image.dtype)
  patch[c.top - b.top:c.bottom - b.top, c.left - b.left:c.right - b.left] = \
      image[c.top:c.bottom, c.left:c.right]
  return patch


def alone_on_canvas(image: np.ndarray, box: FeatureBox, fill: float = 0.0) -> np.ndarray:
  """A `fill` image holding only the pixels under `box`, at their place."""
  c = box.clipped
  canvas = np.full_like(image, fill)
  canvas[c.top:c.bottom, c.left:c.right] = image[c.top:c.bottom, c.left:c.right]
  return canvas


@dataclasses.dataclass
class Hits:
  """What ZF Fig. 2 shows for some channels: patches, projections, the check.

  Attributes:
    channels: the channels shown.
    patches: [len(channels), k, box_h, box_w, C] input patches.
    projections: the same shape: each hit's deconvnet projection, cut the same way.
    recomputed: [len(channels), k] the unit recomputed on its patch alone.
    inside: [len(channels), k] whether the field lies inside the image.
  """
  channels: list
  values: np.ndarray
  patches: np.ndarray
  projections: np.ndarray
  recomputed: np.ndarray
  inside: np.ndarray

  @property
  def max_error(self) -> float:
    """Largest |recomputed - recorded| over hits, relative to max(1, |recorded|)."""
    scale = np.maximum(1.0, np.abs(self.values))
    return float(np.max(np.abs(self.recomputed - self.values) / scale))


def hits(fn: Callable, variables, images: np.ndarray, top: TopActivations,
         channels: list[int], *, rule: str = "deconvnet", fill: float = 0.0) -> Hits:
  """Patches, projections and the recomputation check of `channels`' top hits.

  Args:
    fn: feature function (variables, x) -> [B, h, w, K].
    images: the images `top` was found in.
    top: from `top_activations` on the same function.
    channels: which channels to show.
    rule: the projection's backward rule (see `jcnn.viz.backprojection`).
    fill: the value outside the image and around patches.
  """
  num_channels = top.values.shape[0]
  for c in channels:
    if not 0 <= c < num_channels:
      raise ValueError(f"channel {c} out of range: the layer has {num_channels}")
  table = field_table(fn, variables, images.shape[1:])
  project = Backprojector(fn, variables, rule)
  forward = jax.jit(fn)
  patches, projections, recomputed, inside = [], [], [], []
  for c in channels:
    x = jnp.asarray(images[top.images[c]])
    y = forward(variables, x)
    units = [(i, *top.positions[c, i], c) for i in range(top.k)]
    projection = np.asarray(project(x, keep_units(y, units)))
    boxes = [feature_box(table, None, tuple(p)) for p in top.positions[c]]
    canvases = np.stack([alone_on_canvas(np.asarray(x[i]), b, fill)
                         for i, b in enumerate(boxes)])
    again = np.asarray(forward(variables, jnp.asarray(canvases)))
    recomputed.append([again[i, r, col, c] for i, (r, col) in enumerate(top.positions[c])])
    patches.append([cut_patch(np.asarray(x[i]), b, fill) for i, b in enumerate(boxes)])
    projections.append([cut_patch(projection[i], b, 0.0) for i, b in enumerate(boxes)])
    inside.append([b.box == b.clipped for b in boxes])
  return Hits(list(channels), top.values[channels], np.asarray(patches),
              np.asarray(projections), np.asarray(recomputed), np.asarray(inside))
