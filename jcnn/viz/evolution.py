"""Feature evolution across training (Zeiler & Fergus 2014, Fig. 4).

For each checkpoint of a run, the strongest activation of each chosen feature map over
a fixed set of images and its deconvnet projection: one column per checkpoint. ZF saw
the lower layers settle within a few epochs and the upper ones only after many.
"""
import dataclasses
from typing import Callable, Iterable

import numpy as np

from jcnn.viz.top_hits import hits, top_activations


@dataclasses.dataclass
class Evolution:
  """Per channel and checkpoint: the strongest hit's value, image, patch, projection.

  Attributes:
    steps: the checkpoints' steps (columns).
    channels: the feature maps (rows).
    values, images: [channels, steps].
    patches, projections: [channels, steps, box_h, box_w, C].
  """
  steps: list
  channels: list
  values: np.ndarray
  images: np.ndarray
  patches: np.ndarray
  projections: np.ndarray


def feature_evolution(fn: Callable, checkpoints: Iterable[tuple[int, dict]],
                      images: np.ndarray, channels: list[int], *,
                      rule: str = "deconvnet", fill: float = 0.0) -> Evolution:
  """The strongest hit of each channel at every checkpoint.

  Args:
    fn: feature function (variables, x) -> [B, h, w, K].
    checkpoints: (step, variables) pairs, oldest first.
    images: [N, H, W, C] searched at every checkpoint.
    channels: feature maps to follow.
  """
  steps, values, found, patches, projections = [], [], [], [], []
  for step, variables in checkpoints:
    top = top_activations(fn, variables, images, k=1)
    shown = hits(fn, variables, images, top, channels, rule=rule, fill=fill)
    steps.append(int(step))
    values.append(shown.values[:, 0])
    found.append(top.images[channels, 0])
    patches.append(shown.patches[:, 0])
    projections.append(shown.projections[:, 0])
  if len(steps) < 2:
    raise ValueError(f"feature evolution needs at least 2 checkpoints, got {len(steps)}")
  stack = lambda a: np.stack(a, axis=1)
  return Evolution(steps, list(channels), stack(values), stack(found), stack(patches),
                   stack(projections))
