"""Inverted dropout."""
import jax
import jax.numpy as jnp


def dropout(x: jax.Array, rate: float, key: jax.Array | None, *,
            deterministic: bool = False) -> jax.Array:
  """Zeroes each element with probability `rate` and scales the rest by 1/(1-rate).

  Scaling at train time keeps the expected activation unchanged, so evaluation
  needs no rescaling (unlike AlexNet's original "multiply by 0.5 at test time").

  Args:
    x: any shape.
    rate: drop probability, a Python float in [0, 1).
    key: a PRNG key; may be None when nothing is dropped.
    deterministic: True returns `x` unchanged (evaluation).

  Returns:
    An array shaped like `x`.
  """
  if not 0.0 <= rate < 1.0:
    raise ValueError(f"dropout rate must be in [0, 1), got {rate!r}")
  if deterministic or rate == 0.0:
    return x
  if key is None:
    raise ValueError(f"dropout with rate {rate} needs a PRNG key, got None")
  keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
  return jnp.where(keep, x / (1.0 - rate), jnp.zeros_like(x))
