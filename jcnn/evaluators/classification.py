"""Classification evaluation shared by the train and eval programs.

The step returns sums (not means) with a per-example mask, so padded final batches
and any number of devices give exact dataset-level numbers.
"""
from typing import Callable, Iterable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jcnn import losses, metrics, parallel


def make_eval_step(apply_fn: Callable, num_classes: int) -> Callable:
  """Returns `eval_step(variables, batch) -> sums` for a classifier.

  `sums` holds `loss`, `top1`, `top5` summed over the unmasked examples and `count`.
  """
  top5 = min(5, num_classes)

  def eval_step(variables, batch):
    logits = apply_fn(variables, batch["image"], train=False)
    mask = batch["mask"]
    return {
        "loss": losses.softmax_cross_entropy(logits, batch["label"], weights=mask,
                                             reduction="sum"),
        "top1": jnp.sum(metrics.topk_correct(logits, batch["label"], 1) * mask),
        "top5": jnp.sum(metrics.topk_correct(logits, batch["label"], top5) * mask),
        "count": jnp.sum(mask),
    }

  return eval_step


def jit_eval_step(eval_step: Callable, mesh: Mesh) -> Callable:
  """Compiles `eval_step` over the mesh: variables replicated, batch split."""
  return jax.jit(eval_step,
                 in_shardings=(parallel.replicated(mesh), parallel.batch_sharded(mesh)),
                 out_shardings=parallel.replicated(mesh))


def evaluate(step_fn: Callable, variables, batches: Iterable[dict], mesh: Mesh) -> dict:
  """Runs a compiled eval step over `batches`; returns dataset-level metrics.

  Returns:
    `{"top1", "top5", "loss", "num_examples"}`: accuracies as fractions, mean loss.
  """
  totals = None
  for batch in batches:
    sums = step_fn(variables, parallel.put_batch(batch, mesh))
    totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
  if totals is None:
    raise ValueError("evaluation got no batches: the split is empty")
  totals = jax.tree.map(lambda v: float(np.asarray(v)), jax.device_get(totals))
  count = totals["count"]
  return {"top1": totals["top1"] / count, "top5": totals["top5"] / count,
          "loss": totals["loss"] / count, "num_examples": int(count)}
