"""The train state: everything a step reads and writes, as one pytree.

Randomness lives here as a key; each step folds in its step number, so a run resumed
from a checkpoint draws exactly the numbers an uninterrupted run draws.
"""
from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax
from flax.training import train_state


class TrainState(train_state.TrainState):
  """Flax's TrainState plus batch statistics, an EMA of the weights and a PRNG key.

  Attributes:
    batch_stats: BatchNorm running statistics (`{}` for models without BatchNorm).
    ema_params: exponential moving average of `params`, or None when disabled.
    rng: the run's base PRNG key (raw uint32 key data); see `step_rng`.
    ema_decay: EMA decay per step (static).
  """
  batch_stats: Any = None
  ema_params: Any = None
  rng: jax.Array | None = None
  ema_decay: float = flax.struct.field(pytree_node=False, default=0.0)

  def apply_gradients(self, *, grads, **kwargs) -> "TrainState":
    """One optimizer update; also advances the EMA when enabled."""
    new = super().apply_gradients(grads=grads, **kwargs)
    if self.ema_params is None:
      return new
    ema = optax.incremental_update(new.params, self.ema_params, 1.0 - self.ema_decay)
    return new.replace(ema_params=ema)

  def step_rng(self) -> jax.Array:
    """The PRNG key of the current step."""
    return jax.random.fold_in(self.rng, self.step)

  def eval_variables(self) -> dict:
    """Variables for evaluation: the EMA weights when kept, else the live ones."""
    params = self.params if self.ema_params is None else self.ema_params
    return {"params": params, **({"batch_stats": self.batch_stats} if self.batch_stats else {})}


def create(model, tx: optax.GradientTransformation, *, rng: jax.Array,
           input_shape: tuple[int, int, int], ema_decay: float = 0.0,
           apply_fn=None) -> TrainState:
  """Initialises `model` on a dummy batch of `input_shape` and wraps it in a TrainState.

  Args:
    model: a Flax module called as `model.apply(variables, x, train=...)`.
    tx: the optax optimizer.
    rng: the run's PRNG key; split for initialisation and kept for the steps.
    input_shape: `(height, width, channels)` of one example.
    ema_decay: keep an EMA of the weights with this decay when > 0.
    apply_fn: what the steps call (default `model.apply`; see `jcnn.precision`).

  Returns:
    A TrainState at step 0.
  """
  init_rng, run_rng = jax.random.split(rng)
  # Compiled as one program: run eagerly, every distinct kernel shape's initialiser
  # compiles on its own (minutes for an Inception network on a CPU).
  init = jax.jit(lambda rngs, x: model.init(rngs, x, train=False))
  variables = init({"params": init_rng, "dropout": init_rng},
                   jnp.zeros((1, *input_shape), jnp.float32))
  params = variables["params"]
  return TrainState.create(
      apply_fn=apply_fn or model.apply, params=params, tx=tx,
      batch_stats=variables.get("batch_stats", {}),
      # A copy: params and EMA must not share buffers, or donating the state fails.
      ema_params=jax.tree.map(jnp.copy, params) if ema_decay > 0 else None,
      rng=run_rng, ema_decay=float(ema_decay))
