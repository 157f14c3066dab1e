"""How much memory training takes, and what batch fits in a given amount.

The model (per training step):

  total = copies × parameter bytes          params + gradients (+ optimizer moments)
        + other variables (batch statistics)
        + batch-independent residuals (arrays computed from parameters only)
        + batch × (input bytes + backprop residual bytes) per example

with copies = 2 for SGD (params, gradients), 3 for SGD with momentum (+ one
velocity), 4 for Adam (+ two moments). The residuals are what `jax.vjp` keeps from
the forward pass to backpropagate to the parameters (see `cost`), measured at batch
1 and 2 so that their per-example part and their fixed part separate.

`xla_train_step_memory` compiles a real step (forward, backward, optax update,
parameters and optimizer state donated) and reads XLA's `memory_analysis()`:
arguments + outputs - aliased outputs + temporaries. XLA fuses elementwise ops
into their neighbours and frees activations as the backward pass consumes them, so
the two figures differ by the residuals XLA recomputes or never materialises; the
tests state the agreement measured.
"""
import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import optax

from jcnn.analysis.cost import batched, graph_fn, memory_sizes, residual_bytes, split_leaves, trace

OPTIMIZER_COPIES = {"sgd": 2, "momentum": 3, "adam": 4}


def _copies(optimizer: str) -> int:
  if optimizer not in OPTIMIZER_COPIES:
    raise ValueError(f"unknown optimizer {optimizer!r}; choose from {sorted(OPTIMIZER_COPIES)}")
  return OPTIMIZER_COPIES[optimizer]


@dataclasses.dataclass(frozen=True)
class TrainingMemory:
  """Predicted memory of one training step (bytes).

  Attributes:
    optimizer: "sgd", "momentum" or "adam".
    batch_size: examples per step.
    param_bytes: the trainable parameters.
    optimizer_bytes: gradients and optimizer moments: (copies - 1) × param_bytes.
    state_bytes: the other variables (batch statistics).
    fixed_bytes: residuals that do not grow with the batch.
    per_example_bytes: input plus backprop residuals of one example.
    total_bytes: the sum, for `batch_size` examples.
    xla: XLA's figures for the compiled step (`memory_sizes`), when asked for.
  """
  optimizer: str
  batch_size: int
  param_bytes: int
  optimizer_bytes: int
  state_bytes: int
  fixed_bytes: int
  per_example_bytes: int
  total_bytes: int
  xla: dict | None = None


@dataclasses.dataclass(frozen=True)
class _Footprint:
  param_bytes: int
  state_bytes: int
  fixed_bytes: int
  per_example_bytes: int


def _footprint(fn: Callable, x, variables) -> _Footprint:
  """Parameter, state and residual bytes, split into fixed and per-example parts."""
  one = trace(fn, batched(x, 1), variables)
  two = trace(fn, batched(x, 2), variables)
  r1, r2 = residual_bytes(one), residual_bytes(two)
  per_example = r2 - r1 + one.x.nbytes
  params = sum(v.nbytes for v, t in zip(one.leaf_values, one.trainable) if t)
  state = sum(v.nbytes for v, t in zip(one.leaf_values, one.trainable) if not t)
  return _Footprint(params, state, max(0, r1 - (r2 - r1)), per_example)


def training_memory(fn: Callable, x, *, variables=None, optimizer: str = "adam",
                    batch_size: int | None = None, compare_xla: bool = False
                    ) -> TrainingMemory:
  """Predicted bytes of one training step of `fn` on a batch (module docstring).

  Args:
    fn: `fn(x)` or, with `variables`, `fn(variables, x)`: the forward pass as
      trained (e.g. `lambda v, x: model.apply(v, x, train=True,
      mutable=["batch_stats"])[0]`).
    x: an input batch [batch, ...] (array or ShapeDtypeStruct).
    variables: optional pytree; with a Flax dict, "params" is what trains.
    optimizer: "sgd", "momentum" or "adam".
    batch_size: the batch to predict for (default: x's leading dimension).
    compare_xla: also compile the step and attach XLA's figures.

  Returns:
    A TrainingMemory.
  """
  copies = _copies(optimizer)
  batch = batched(x, batch_size).shape[0]
  f = _footprint(fn, x, variables)
  total = (copies * f.param_bytes + f.state_bytes + f.fixed_bytes
           + batch * f.per_example_bytes)
  xla = (xla_train_step_memory(fn, x, variables=variables, optimizer=optimizer,
                               batch_size=batch) if compare_xla else None)
  return TrainingMemory(optimizer, batch, f.param_bytes, (copies - 1) * f.param_bytes,
                        f.state_bytes, f.fixed_bytes, f.per_example_bytes, total, xla)


def max_batch(fn: Callable, x, memory_bytes: float, optimizer: str = "adam", *,
              variables=None) -> int:
  """The largest batch whose predicted training memory fits in `memory_bytes`.

  Returns 0 when not even the parameters and optimizer state fit.
  """
  copies = _copies(optimizer)
  if memory_bytes <= 0:
    raise ValueError(f"memory_bytes must be positive, got {memory_bytes}")
  f = _footprint(fn, x, variables)
  free = memory_bytes - copies * f.param_bytes - f.state_bytes - f.fixed_bytes
  return max(0, int(free // f.per_example_bytes))


def _optax(optimizer: str) -> optax.GradientTransformation:
  _copies(optimizer)
  return {"sgd": optax.sgd(0.1), "momentum": optax.sgd(0.1, momentum=0.9),
          "adam": optax.adam(1e-3)}[optimizer]


def xla_train_step_memory(fn: Callable, x, *, variables=None, optimizer: str = "adam",
                          batch_size: int | None = None) -> dict:
  """XLA's memory figures for one compiled training step of `fn`.

  The step computes a mean-squared loss of fn's output, its gradient with respect
  to the trainable parameters, and the optax update; parameters and optimizer
  state are donated, as in a real training loop. Nothing is allocated: the step
  is compiled for abstract shapes.

  Returns:
    `cost.memory_sizes` of the compiled step: argument, output, alias, temp and
    total bytes.
  """
  model = trace(fn, batched(x, batch_size), variables)
  forward = graph_fn(model)
  tx = _optax(optimizer)
  trainable, others = split_leaves(model)

  def step(params, opt_state, others, x):
    def loss(p):
      out = forward(p, others, x)
      return sum(jnp.mean(jnp.square(o.astype(jnp.float32))) for o in out)
    grads = jax.grad(loss)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  opt_state = jax.eval_shape(tx.init, trainable)
  x_abstract = jax.ShapeDtypeStruct(model.x.shape, model.x.aval.dtype)
  compiled = jax.jit(step, donate_argnums=(0, 1)).lower(
      trainable, opt_state, others, x_abstract).compile()
  return memory_sizes(compiled)
