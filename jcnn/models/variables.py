"""A model's variables without compute: their shapes and parameter count.

Big models are checked this way: `jax.eval_shape` traces `init` without allocating.
"""
import math

import flax.linen as nn
import jax
import jax.numpy as jnp


def abstract_variables(model: nn.Module, input_shape: tuple[int, ...]) -> dict:
  """The variables `model.init` makes for one input, as jax.ShapeDtypeStruct leaves.

  Args:
    model: a module called as `model(x, train=False)`, like every model of the zoo.
    input_shape: one example's shape, e.g. `(height, width, channels)`.

  Returns:
    The variables pytree ({"params": ..., "batch_stats": ...}) of a batch of one.
  """
  x = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
  return jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x, train=False), x)


def num_params(tree) -> int:
  """Number of scalars in a pytree of arrays or ShapeDtypeStructs (e.g. variables["params"])."""
  return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(tree))
