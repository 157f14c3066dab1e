"""The pure train step, and its compilation over the device mesh."""
from typing import Callable

import jax
import ml_collections
import optax
from jax.sharding import Mesh

from jcnn import losses, metrics, models, parallel
from jcnn.state import TrainState


def make_train_step(config: ml_collections.ConfigDict, schedule: optax.Schedule) -> Callable:
  """Returns `train_step(state, batch) -> (state, metrics)` for a classifier.

  The loss is cross-entropy (with optional label smoothing), plus each auxiliary
  classifier's cross-entropy times the model's `aux_loss_weight` (GoogLeNet: 0.3), plus
  `weight_decay * l2_penalty(params, weight_decay_subset)`. Dropout draws from the
  state's key folded with the step number.
  """
  aux_weight = models.info(config.model).aux_loss_weight

  def loss_fn(params, state: TrainState, batch):
    variables = {"params": params}
    mutable = []
    if state.batch_stats:
      variables["batch_stats"] = state.batch_stats
      mutable = ["batch_stats"]
    outputs, updates = state.apply_fn(variables, batch["image"], train=True,
                                      rngs={"dropout": state.step_rng()}, mutable=mutable)
    logits, aux_logits = models.unpack_outputs(outputs)
    cross_entropy = lambda z: losses.softmax_cross_entropy(
        z, batch["label"], label_smoothing=config.label_smoothing)
    ce = cross_entropy(logits)
    loss = ce + sum(aux_weight * cross_entropy(z) for z in aux_logits)
    if config.weight_decay:
      loss += config.weight_decay * losses.l2_penalty(params, config.weight_decay_subset)
    return loss, (ce, logits, updates)

  def train_step(state: TrainState, batch: dict):
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (loss, (ce, logits, updates)), grads = grad_fn(state.params, state, batch)
    new_state = state.apply_gradients(
        grads=grads, batch_stats=updates.get("batch_stats", state.batch_stats))
    step_metrics = {"loss": ce, "total_loss": loss,
                    "top1": metrics.topk_accuracy(logits, batch["label"], k=1),
                    "learning_rate": schedule(state.step)}
    return new_state, step_metrics

  return train_step


def jit_train_step(train_step: Callable, mesh: Mesh) -> Callable:
  """Compiles the step over the mesh: state replicated and donated, batch split."""
  replicated = parallel.replicated(mesh)
  return jax.jit(train_step, in_shardings=(replicated, parallel.batch_sharded(mesh)),
                 out_shardings=(replicated, replicated), donate_argnums=(0,))
