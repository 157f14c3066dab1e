"""Invariance curves (Zeiler & Fergus 2014, Fig. 5): how far features move when the
image is shifted, scaled or rotated, and whether the class survives.

For each amount of a transformation, the Euclidean distance between each layer's
feature vector on the transformed image and on the original, and the true class's
probability. ZF found the first layer's features move a lot even for small changes
and the top layer's far less (quasi-linear for translation and scaling), while the
output is not rotation invariant except for rotationally symmetric objects.
Transforms are scikit-image affine warps about the image centre, bilinear, with the
fill value (the dataset mean) where the warp leaves the image.
"""
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from skimage import transform as sktransform

KINDS = {
    "translation": "vertical shift in pixels (positive: down)",
    "scale": "scale factor about the centre",
    "rotation": "rotation in degrees, anticlockwise, about the centre",
}


def default_amounts(kind: str, size: int) -> np.ndarray:
  """ZF's ranges, for an image side of `size` pixels."""
  check_kind(kind)
  if kind == "translation":
    return np.arange(-(size // 4), size // 4 + 1, max(1, size // 16))
  if kind == "scale":
    return np.round(np.linspace(0.6, 1.6, 11), 2)
  return np.arange(0, 361, 30)


def check_kind(kind: str) -> None:
  if kind not in KINDS:
    raise ValueError(f"unknown transformation {kind!r}; choose one of {', '.join(KINDS)}")


def warp(image: np.ndarray, kind: str, amount: float, fill: float = 0.0) -> np.ndarray:
  """`image` [H, W, C] shifted down, scaled or rotated by `amount` (see KINDS)."""
  check_kind(kind)
  h, w = image.shape[:2]
  centre = np.array([(w - 1) / 2, (h - 1) / 2])  # scikit-image points are (x, y)
  if kind == "translation":
    forward = sktransform.AffineTransform(translation=(0, amount))
  else:
    if kind == "scale" and amount <= 0:
      raise ValueError(f"scale factors must be positive, got {amount}")
    forward = (sktransform.AffineTransform(translation=-centre)
               + sktransform.AffineTransform(
                   scale=amount if kind == "scale" else 1.0,
                   rotation=-np.deg2rad(amount) if kind == "rotation" else 0.0)
               + sktransform.AffineTransform(translation=centre))
  out = sktransform.warp(image.astype(np.float64), forward.inverse, order=1,
                         mode="constant", cval=fill, preserve_range=True)
  return out.astype(image.dtype)


def invariance_curves(logits_fn: Callable, feature_fns: dict[str, Callable], variables,
                      images: np.ndarray, labels: Sequence[int], kind: str,
                      amounts: Sequence[float], fill: float = 0.0) -> dict:
  """Feature distances and true-class probabilities over the amounts of one transform.

  Args:
    logits_fn: (variables, x) -> logits.
    feature_fns: {layer name: (variables, x) -> features}.
    variables: the model's variables.
    images: [N, H, W, C] as the model takes them; labels: their classes.
    kind: "translation", "scale" or "rotation".
    amounts: the transformation's amounts (see KINDS); include the identity to see 0.

  Returns:
    {"kind", "amounts", "distance": {layer: [N][A]}, "true_prob": [N][A]}.
  """
  check_kind(kind)
  amounts = [float(a) for a in amounts]
  labels = np.asarray(labels)

  @jax.jit
  def run(variables, x):
    probs = jax.nn.softmax(logits_fn(variables, x).astype(jnp.float32))
    feats = {name: fn(variables, x).reshape(x.shape[0], -1).astype(jnp.float32)
             for name, fn in feature_fns.items()}
    return probs, feats

  _, reference = run(variables, jnp.asarray(images))
  distance = {name: [] for name in feature_fns}
  true_prob = []
  for amount in amounts:
    warped = np.stack([warp(image, kind, amount, fill) for image in images])
    probs, feats = run(variables, jnp.asarray(warped))
    true_prob.append(np.asarray(probs)[np.arange(len(images)), labels])
    for name in feature_fns:
      distance[name].append(np.linalg.norm(np.asarray(feats[name] - reference[name]), axis=1))
  return {"kind": kind, "amounts": amounts,
          "distance": {n: np.stack(d, axis=1).tolist() for n, d in distance.items()},
          "true_prob": np.stack(true_prob, axis=1).tolist()}
