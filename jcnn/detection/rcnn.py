"""R-CNN's parts around the CNN (Girshick et al. 2014; rbg's MATLAB `rcnn`).

  crops = rcnn.warp_regions(image, proposals, size=32, context=4)  # [K, 32, 32, C]
  labels, iou, match = rcnn.region_labels(proposals, gt_boxes, gt_labels)  # fine-tuning
  svm = rcnn.train_svm(positives, negatives_per_image)            # hard-negative mining
  regressor = rcnn.fit_box_regressor(pool5, proposals, matched_gt)  # ridge, λ = 1000
  boxes, labels, scores = rcnn.detections(proposals, svm_scores, nms_threshold=0.3)

SPP-net shares all of these but the warp: its regions are pooled from one conv map
(`jcnn.detection.roi_spatial_pyramid_pool`).
"""
import dataclasses
import functools
from collections.abc import Iterable

import jax
import jax.numpy as jnp
import numpy as np
from sklearn import linear_model, svm

from jcnn.detection.box_coding import decode, encode
from jcnn.detection.boxes import as_float, box_iou_host, clip_boxes
from jcnn.detection.nms import batched_nms


def context_boxes(boxes: jax.Array, size: int, context: int,
                  square: bool = False) -> jax.Array:
  """Each box grown about its centre so that, warped to size × size, `context` pixels of
  the crop surround it on every side (rcnn_im_crop's scale size / (size - 2·context)).

  Args:
    boxes: [K, 4] xyxy, continuous pixel coordinates.
    size: the crop's side (227 in the paper).
    context: pixels of context at the crop's scale (16 in the paper).
    square: grow the tightest square around the box instead (the paper's isotropic
      "tightest square with context"; the default is its anisotropic warp).

  Returns:
    [K, 4] xyxy, not clipped: the parts outside the image are filled by `warp_regions`.
  """
  if not 0 <= 2 * context < size:
    raise ValueError(f"context must be in [0, size / 2), got {context} for size {size}")
  boxes = as_float(boxes)
  centre = (boxes[:, :2] + boxes[:, 2:]) / 2
  half = (boxes[:, 2:] - boxes[:, :2]) / 2
  if square:
    half = jnp.max(half, axis=1, keepdims=True) * jnp.ones_like(half)
  half = half * (size / (size - 2 * context))
  return jnp.concatenate([centre - half, centre + half], axis=1)


def warp_regions(images: jax.Array, boxes: jax.Array, size: int, context: int = 16,
                 square: bool = False, image_index: jax.Array | None = None) -> jax.Array:
  """The CNN inputs of R-CNN: every box with its context, warped to size × size.

  Each crop samples its `context_boxes` box bilinearly at size × size pixel centres;
  where the grown box leaves the image the crop is 0, the mean of a normalised image,
  as rcnn_im_crop pads with the mean. (rcnn_im_crop rounds the grown box to whole
  pixels and resizes the clipped part; sampling the exact box differs by under a pixel.)

  Args:
    images: [H, W, C] one normalised image, or [B, H, W, C] several of one size.
    boxes: [K, 4] xyxy proposals.
    size: the crop's side.
    context: pixels of context around the box, at the crop's scale.
    square: isotropic (tightest square) crops instead of the anisotropic warp.
    image_index: int [K], the image of each box when `images` holds several.

  Returns:
    [K, size, size, C] float32.
  """
  images = jnp.asarray(images, jnp.float32)
  if images.ndim == 3 and image_index is None:
    images, image_index = images[None], jnp.zeros(len(boxes), jnp.int32)
  if images.ndim != 4 or image_index is None:
    raise ValueError(f"warp_regions expects an image [H, W, C], or images [B, H, W, C] "
                     f"with an image_index, got {images.shape}")
  return _warp(images, context_boxes(boxes, size, context, square),
               jnp.asarray(image_index, jnp.float32), size=size)


@functools.partial(jax.jit, static_argnames=("size",))
def _warp(images, grown, image_index, *, size):
  steps = (jnp.arange(size, dtype=jnp.float32) + 0.5) / size
  # One (image, y, x) coordinate per crop pixel: linear interpolation at a whole image
  # index reads that image alone, so no image is copied per box.
  channels = jnp.moveaxis(images, 3, 0)

  def crop(box, index):
    # Continuous x covers pixel k over [k, k + 1): its centre is at array index x - 0.5.
    xs = box[0] + steps * (box[2] - box[0]) - 0.5
    ys = box[1] + steps * (box[3] - box[1]) - 0.5
    ys, xs = jnp.meshgrid(ys, xs, indexing="ij")
    grid = (jnp.full_like(ys, index), ys, xs)
    sample = lambda c: jax.scipy.ndimage.map_coordinates(c, grid, order=1, mode="constant",
                                                         cval=0.0)
    return jax.vmap(sample, out_axes=2)(channels)

  return jax.vmap(crop)(grown, image_index)


def region_labels(proposals: jax.Array, gt_boxes: jax.Array, gt_labels: jax.Array,
                  foreground_iou: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Fine-tuning labels: each proposal takes the class of its best-overlapping ground
  truth if IoU >= foreground_iou, else background (R-CNN §2.3).

  Args:
    proposals: [K, 4] xyxy.
    gt_boxes: [G, 4] xyxy (G may be 0).
    gt_labels: [G] 0-based classes.
    foreground_iou: the paper's 0.5.

  Returns:
    labels [K] (0 background, class + 1 otherwise), best IoU [K], index of the best
    ground truth [K] (-1 where there is none), NumPy arrays.
  """
  proposals = np.asarray(proposals, np.float32).reshape(-1, 4)
  gt_boxes = np.asarray(gt_boxes, np.float32).reshape(-1, 4)
  gt_labels = np.asarray(gt_labels, np.int64).reshape(-1)
  if len(gt_boxes) != len(gt_labels):
    raise ValueError(f"{len(gt_boxes)} ground-truth boxes but {len(gt_labels)} labels")
  if not len(gt_boxes) or not len(proposals):
    return (np.zeros(len(proposals), np.int64), np.zeros(len(proposals), np.float32),
            np.full(len(proposals), -1, np.int64))
  iou = box_iou_host(proposals, gt_boxes)
  best = iou.argmax(axis=1)
  best_iou = iou[np.arange(len(proposals)), best]
  labels = np.where(best_iou >= foreground_iou, gt_labels[best] + 1, 0)
  return labels, best_iou, best


def sample_regions(rng: np.random.Generator, labels: np.ndarray, batch_size: int = 128,
                   positives: int = 32) -> np.ndarray:
  """One fine-tuning mini-batch: up to `positives` foreground regions, the rest
  background (the paper's 32 + 96 of 128), drawn without replacement where there are
  enough; indices into `labels`."""
  labels = np.asarray(labels)
  foreground, background = np.flatnonzero(labels > 0), np.flatnonzero(labels == 0)
  if not len(labels):
    raise ValueError("no regions to sample from")
  take_fg = min(positives, len(foreground)) if len(background) else batch_size
  fg = _draw(rng, foreground, take_fg)
  bg = _draw(rng, background if len(background) else foreground, batch_size - len(fg))
  return rng.permutation(np.concatenate([fg, bg]))


def _draw(rng, pool, count):
  if count <= 0 or not len(pool):
    return np.zeros(0, np.int64)
  return rng.choice(pool, count, replace=count > len(pool))


def feature_scale(features: np.ndarray, target_norm: float = 20.0) -> float:
  """The factor that gives features an average L2 norm of `target_norm` (rbg's
  rcnn_feature_stats: SVMs and regressors are trained on features scaled to norm 20)."""
  norms = np.linalg.norm(np.asarray(features, np.float64).reshape(len(features), -1), axis=1)
  mean = norms.mean() if len(norms) else 0.0
  if not mean > 0:
    raise ValueError("features are all zero: no scale gives them a norm")
  return float(target_norm / mean)


@dataclasses.dataclass(frozen=True)
class SVMOptions:
  """rbg's rcnn_train defaults: liblinear's L1-loss SVM (-s 3), C = 0.001, positives
  weighted 2, bias feature 10, hard negatives score above -1.0001, easy ones below -1.2
  are evicted, retrain after 2,000 new negatives."""
  C: float = 1e-3
  positive_weight: float = 2.0
  bias_multiplier: float = 10.0
  hard_threshold: float = -1.0001
  evict_threshold: float = -1.2
  retrain_every: int = 2000
  max_iter: int = 10_000


@dataclasses.dataclass
class LinearSVM:
  """One class's SVM: score = features · weights + bias.

  Attributes:
    weights: [D].
    bias: scalar.
    history: per retraining, the cache size before and after eviction.
  """
  weights: np.ndarray
  bias: float
  history: list = dataclasses.field(default_factory=list)

  def score(self, features: np.ndarray) -> np.ndarray:
    return np.asarray(features, np.float32).reshape(len(features), -1) @ self.weights + self.bias


def hard_negatives(svm_model: LinearSVM | None, negatives: np.ndarray,
                   threshold: float) -> np.ndarray:
  """Indices of the negatives the model gets wrong enough to learn from: all of them
  before a first model exists, then those scoring above `threshold` (rbg: -1.0001)."""
  if svm_model is None:
    return np.arange(len(negatives))
  return np.flatnonzero(svm_model.score(negatives) > threshold)


def train_svm(positives: np.ndarray, negatives: Iterable[np.ndarray],
              options: SVMOptions = SVMOptions()) -> LinearSVM:
  """One class's linear SVM with rbg's hard-negative mining, one pass over the images.

  Every image's negatives (features of its proposals with IoU < 0.3 to this class's
  ground truth) are scored by the current model; the hard ones join a cache (all of
  them before the first model); after the first image with negatives, once
  `retrain_every` have joined since the last training, and after the last image, the
  SVM is retrained on the positives and the cache (scikit-learn's `LinearSVC`, i.e.
  liblinear, as the original), and cached negatives scoring below `evict_threshold` are
  evicted.

  Args:
    positives: [P, D] features of the class's ground-truth boxes.
    negatives: an iterable of [N_i, D] arrays, one per image (N_i may be 0).
    options: the solver's and the miner's constants.

  Returns:
    The trained LinearSVM.
  """
  positives = np.asarray(positives, np.float32)
  if positives.ndim != 2 or not len(positives):
    raise ValueError(f"an SVM needs positives [P >= 1, D], got {positives.shape}")
  cache = np.zeros((0, positives.shape[1]), np.float32)
  model, added, history = None, 0, []
  for image_negatives in negatives:
    image_negatives = np.asarray(image_negatives, np.float32).reshape(-1, positives.shape[1])
    hard = image_negatives[hard_negatives(model, image_negatives, options.hard_threshold)]
    cache = np.concatenate([cache, hard])
    added += len(hard)
    # rbg trains a first model as soon as there are negatives, then every
    # `retrain_every` new ones, and once more after the last image.
    if len(cache) and (model is None or added > options.retrain_every):
      model, cache = _retrain(positives, cache, options, history)
      added = 0
  if added or model is None:
    model, cache = _retrain(positives, cache, options, history)
  model.history = history
  return model


def _retrain(positives, cache, options, history):
  if not len(cache):
    raise ValueError("an SVM needs at least one negative")
  x = np.concatenate([positives, cache])
  y = np.concatenate([np.ones(len(positives)), np.zeros(len(cache))])
  solver = svm.LinearSVC(C=options.C, loss="hinge", dual=True,
                         class_weight={1: options.positive_weight, 0: 1.0},
                         intercept_scaling=options.bias_multiplier, max_iter=options.max_iter,
                         random_state=0)  # liblinear shuffles: refits must agree
  solver.fit(x, y)
  model = LinearSVM(solver.coef_[0].astype(np.float32), float(solver.intercept_[0]))
  kept = cache[model.score(cache) >= options.evict_threshold]
  history.append((len(cache), len(kept)))
  return model, kept


def regression_examples(proposals: np.ndarray, gt_boxes: np.ndarray, gt_labels: np.ndarray,
                        min_iou: float = 0.6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """The proposals a box regressor learns from: IoU > min_iou with a ground truth
  (R-CNN Appendix C: 0.6). Returns their indices, matched boxes [M, 4] and classes [M]."""
  labels, iou, best = region_labels(proposals, gt_boxes, gt_labels, foreground_iou=0.0)
  keep = np.flatnonzero((iou > min_iou) & (best >= 0))
  return keep, np.asarray(gt_boxes, np.float32).reshape(-1, 4)[best[keep]], labels[keep] - 1


def regression_targets(proposals: jax.Array, gt_boxes: jax.Array) -> np.ndarray:
  """(tx, ty, tw, th) that move each proposal onto its ground truth (Appendix C:
  (gx - px) / pw, (gy - py) / ph, log(gw / pw), log(gh / ph)); `decode` inverts them."""
  return np.asarray(encode(gt_boxes, proposals))


@dataclasses.dataclass
class BoxRegressor:
  """One class's ridge regressor: targets = features · weights + bias.

  Attributes:
    weights: [D, 4].
    bias: [4].
  """
  weights: np.ndarray
  bias: np.ndarray

  def predict(self, features: np.ndarray, proposals: np.ndarray,
              image_size: tuple[int, int]) -> np.ndarray:
    """The regressed boxes [K, 4], clipped to the image."""
    if not len(proposals):
      return np.zeros((0, 4), np.float32)
    deltas = np.asarray(features, np.float32).reshape(len(features), -1) @ self.weights
    return np.asarray(clip_boxes(decode(deltas + self.bias, proposals), image_size))


def fit_box_regressor(features: np.ndarray, proposals: np.ndarray, gt_boxes: np.ndarray,
                      alpha: float = 1000.0) -> BoxRegressor:
  """Ridge regression of the targets on the features (λ = 1000, the paper's)."""
  features = np.asarray(features, np.float32).reshape(len(features), -1)
  if not len(features):
    raise ValueError("a box regressor needs at least one proposal with IoU > 0.6")
  model = linear_model.Ridge(alpha=alpha)
  model.fit(features, regression_targets(proposals, gt_boxes))
  return BoxRegressor(model.coef_.T.astype(np.float32), model.intercept_.astype(np.float32))


def detections(proposals: np.ndarray, scores: np.ndarray, nms_threshold: float = 0.3,
               max_detections: int = 100,
               score_threshold: float = -np.inf) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """R-CNN's test step: every proposal scored by every class's SVM, NMS within each
  class (0.3, the paper's), the best `max_detections`.

  Args:
    proposals: [K, 4] xyxy (K may be 0: no detections).
    scores: [K, N] SVM scores per class.
    nms_threshold: suppress a box with IoU above this to a better one of its class.
    max_detections: at most this many, best first.
    score_threshold: keep only (proposal, class) pairs scoring above this.

  Returns:
    (indices into proposals [D], 0-based labels [D], scores [D]), best first.
  """
  proposals = np.asarray(proposals, np.float32).reshape(-1, 4)
  scores = np.asarray(scores, np.float32)
  if scores.ndim != 2 or len(scores) != len(proposals):
    raise ValueError(f"scores must be [{len(proposals)}, classes], got {scores.shape}")
  rows, labels = np.nonzero(scores > score_threshold)
  if not len(rows):
    return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
  kept = batched_nms(proposals[rows], scores[rows, labels], labels, nms_threshold)
  kept = kept[:max_detections]
  return rows[kept], labels[kept], scores[rows[kept], labels[kept]]
