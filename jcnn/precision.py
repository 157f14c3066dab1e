"""Mixed precision: compute in bfloat16 (or float16) while parameters stay float32.

The optimizer, the EMA and BatchNorm's running statistics keep float32 masters; only
the forward and backward passes run in the compute dtype. Gradients reach the float32
parameters through the cast, so they arrive in float32 too.
"""
from typing import Any, Callable

import jax
import jax.numpy as jnp

COMPUTE_DTYPES = ("float32", "bfloat16", "float16")


def compute_dtype(name: str) -> jnp.dtype:
  """The dtype named by `config.dtype`, with a readable error for anything else."""
  if name not in COMPUTE_DTYPES:
    raise ValueError(f"dtype must be one of {', '.join(COMPUTE_DTYPES)}, got {name!r}")
  return jnp.dtype(name)


def cast_floating(tree: Any, dtype: jnp.dtype) -> Any:
  """Casts the floating-point leaves of `tree` to `dtype`; integer leaves stay."""
  return jax.tree.map(
      lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree)


def apply_in(dtype: str | jnp.dtype, apply_fn: Callable) -> Callable:
  """Wraps a Flax `apply(variables, x, **kwargs)` to compute in `dtype`.

  The parameters and the input are cast to `dtype`; BatchNorm statistics are left in
  float32 (Flax normalises in float32 and keeps running averages in their own dtype);
  every floating output (logits, auxiliary logits, updated statistics) comes back as
  float32, so losses and metrics are computed in full precision. With float32 it
  returns `apply_fn` itself.
  """
  dtype = jnp.dtype(dtype)
  if dtype == jnp.float32:
    return apply_fn

  def apply(variables: dict, x: jax.Array, *args, **kwargs):
    variables = {**variables, "params": cast_floating(variables["params"], dtype)}
    outputs = apply_fn(variables, x.astype(dtype), *args, **kwargs)
    return cast_floating(outputs, jnp.float32)

  return apply
