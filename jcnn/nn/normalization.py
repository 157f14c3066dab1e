"""Local response normalisation (AlexNet) and batch normalisation."""
import jax
from jax import lax

from jcnn import kernels


def local_response_norm(x: jax.Array, depth_radius: int = 5, bias: float = 1.0,
                        alpha: float = 1.0, beta: float = 0.5) -> jax.Array:
  """Divides each activation by the energy of its neighbours across channels.

  Exactly `tf.nn.local_response_normalization`, with its defaults:

    sqr_sum[..., d] = sum(x[..., d - depth_radius : d + depth_radius + 1] ** 2)
    out = x / (bias + alpha * sqr_sum) ** beta

  AlexNet's n=5, k=2, alpha=1e-4, beta=0.75 is depth_radius=2, bias=2.0,
  alpha=1e-4, beta=0.75: the paper's alpha multiplies the plain sum over the n
  channels. Caffe's LRN layer divides its alpha by n, so Caffe's alpha=1e-4 is
  alpha=1e-4 / 5 = 2e-5 here.

  Args:
    x: [batch, height, width, channels]; any rank works, the last axis is channels.
    depth_radius: half-width of the channel window (window size 2 * r + 1),
      clipped at the first and last channel.
    bias, alpha, beta: as in the formula.

  Returns:
    An array shaped like `x`.
  """
  if not isinstance(depth_radius, int) or depth_radius < 0:
    raise ValueError(f"depth_radius must be a non-negative int, got {depth_radius!r}")
  window = (1,) * (x.ndim - 1) + (2 * depth_radius + 1,)
  pads = ((0, 0),) * (x.ndim - 1) + ((depth_radius, depth_radius),)
  # A Python scalar init: only a concrete one gives the differentiable window-sum
  # primitive under jit (see jcnn.nn.pooling.max_pool).
  sqr_sum = lax.reduce_window(x * x, 0.0, lax.add, window, (1,) * x.ndim, pads)
  return x / (bias + alpha * sqr_sum) ** beta


def batch_norm(x: jax.Array, scale: jax.Array, bias: jax.Array, mean: jax.Array,
               var: jax.Array, *, train: bool, momentum: float = 0.9,
               epsilon: float = 1e-5, axis_name: str | None = None
               ) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Normalises each channel over all other axes, as `flax.linen.BatchNorm` does.

  Statistics are computed in at least float32, the variance as E[x^2] - E[x]^2
  (biased, clipped at 0) so that a cross-device mean needs a single `lax.pmean`,
  as flax's default `use_fast_variance=True`. `jcnn.kernels` runs the training
  form: in float32 on a single CPU device through oneDNN, one pass over x each way
  (the variance as E[(x - mean)^2]); the values agree to 1e-5.

  Args:
    x: [batch, height, width, channels] (or [batch, channels]).
    scale, bias: [channels], the learned affine transform.
    mean, var: [channels], the running statistics.
    train: True normalises with this batch's statistics and updates the running
      ones; False normalises with the running ones.
    momentum: weight of the old running statistics in the update. Flax's
      BatchNorm default is 0.99; 0.9 suits short runs.
    epsilon: added to the variance.
    axis_name: a mapped axis (e.g. 'data' under `jax.shard_map`) over which
      batch statistics are averaged, for cross-device batch norm.

  Returns:
    (y, new_mean, new_var): y shaped like `x`; with train=False the running
    statistics come back unchanged.
  """
  channels = x.shape[-1]
  for name, value in (("scale", scale), ("bias", bias), ("mean", mean), ("var", var)):
    if value.shape != (channels,):
      raise ValueError(f"{name} must have shape ({channels},) for x {x.shape}, "
                       f"got {value.shape}")
  if not train:
    return kernels.xla.normalize(x, scale, bias, mean, var, epsilon), mean, var
  y, batch_mean, batch_var = kernels.batch_norm_train(x, scale, bias, epsilon, axis_name)
  return (y, momentum * mean + (1 - momentum) * batch_mean,
          momentum * var + (1 - momentum) * batch_var)
