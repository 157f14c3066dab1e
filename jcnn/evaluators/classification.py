"""Top-1, top-5 and mean cross-entropy of a classifier over a split."""
from typing import Callable, Iterable

import jax.numpy as jnp
from jax.sharding import Mesh

from jcnn import losses, metrics
from jcnn.evaluators.sums import jit_sums, total


def sums_step(apply_fn: Callable, num_classes: int) -> Callable:
  """`step(variables, batch) -> sums` of loss, top-1, top-5 over unmasked examples."""
  top5 = min(5, num_classes)

  def step(variables, batch):
    logits = apply_fn(variables, batch["image"], train=False)
    mask = batch["mask"]
    return {
        "loss": losses.softmax_cross_entropy(logits, batch["label"], weights=mask,
                                             reduction="sum"),
        "top1": jnp.sum(metrics.topk_correct(logits, batch["label"], 1) * mask),
        "top5": jnp.sum(metrics.topk_correct(logits, batch["label"], top5) * mask),
        "count": jnp.sum(mask),
    }

  return step


class ClassificationEvaluator:
  """Scores a classifier on the batches `batches()` yields.

  Args:
    apply_fn: `apply(variables, images, train=False) -> logits`.
    batches: returns a fresh iterable of {"image", "label", "mask"} batches.
    num_classes: for top-5 (top-k with k = min(5, num_classes)).
    mesh: the device mesh; batches are split along it.
    name: the split of its records in the metrics log.
  """

  def __init__(self, apply_fn: Callable, batches: Callable[[], Iterable[dict]], *,
               num_classes: int, mesh: Mesh, name: str = "eval"):
    self.name = name
    self._batches = batches
    self._mesh = mesh
    self._step = jit_sums(sums_step(apply_fn, num_classes), mesh)

  def run(self, variables: dict) -> dict[str, float]:
    """`{"top1", "top5", "loss", "num_examples"}`: fractions, mean loss, count."""
    totals = total(self._step, variables, self._batches(), self._mesh)
    count = totals["count"]
    return {"top1": totals["top1"] / count, "top5": totals["top5"] / count,
            "loss": totals["loss"] / count, "num_examples": int(count)}
