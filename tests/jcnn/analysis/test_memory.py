"""The training-memory model, and how close it comes to XLA's compiled step."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import pytest

from jcnn import analysis, models


class _AllConv(nn.Module):
  """Strided 3×3 convolutions and ReLUs, global pooling, a dense head."""

  @nn.compact
  def __call__(self, x, train: bool = False):
    for i, (width, stride) in enumerate([(32, 1), (64, 2), (64, 1), (128, 2), (128, 1)]):
      x = nn.relu(nn.Conv(width, (3, 3), strides=stride, padding=1, name=f"conv{i}")(x))
    return nn.Dense(10, name="head")(x.mean((1, 2)))


def _train_fn(model):
  return lambda v, x: model.apply(v, x, train=True, mutable=["batch_stats"])[0]


def _case(model, size, channels):
  x = jax.ShapeDtypeStruct((1, size, size, channels), jnp.float32)
  return _train_fn(model), jax.eval_shape(model.init, jax.random.PRNGKey(0), x), x


def test_optimizer_state_multiplies_the_parameters():
  fn, variables, x = _case(models.create("lenet5"), 32, 1)
  got = {opt: analysis.training_memory(fn, x, variables=variables, optimizer=opt,
                                       batch_size=8) for opt in ("sgd", "momentum", "adam")}
  params = 61_706 * 4
  assert all(m.param_bytes == params for m in got.values())
  assert [m.optimizer_bytes for m in got.values()] == [params, 2 * params, 3 * params]
  assert got["adam"].total_bytes - got["sgd"].total_bytes == 2 * params
  with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
    analysis.training_memory(fn, x, variables=variables, optimizer="rmsprop")


def test_max_batch_is_the_largest_that_fits():
  fn, variables, x = _case(models.create("lenet5"), 32, 1)
  budget = 64 * 2**20
  batch = analysis.max_batch(fn, x, budget, "adam", variables=variables)
  at = lambda b: analysis.training_memory(fn, x, variables=variables, optimizer="adam",
                                          batch_size=b).total_bytes
  assert at(batch) <= budget < at(batch + 1)
  assert analysis.max_batch(fn, x, 1_000, "adam", variables=variables) == 0  # not even params


# XLA (CPU) compiles the step with fusion and buffer reuse: it never stores the
# elementwise intermediates jax.vjp lists as residuals (BatchNorm, ReLU outputs: we
# over-predict ResNet-20 by about 27%) but holds gradient buffers and convolution
# workspace we do not model (the all-conv net: we under-predict by about 11%). 30% is
# the agreement we measured and can promise. Max-pool gradients are left out: XLA's CPU
# backend takes several times the activation size of workspace for them (LeNet-5 with
# max pooling: XLA 3× our figure), a backend detail no model of the network captures.
XLA_CASES = [
    pytest.param(models.create("lenet5", activation="tanh", pooling="avg"), 32, 1, 256,
                 id="lenet5_classic"),
    pytest.param(_AllConv(), 32, 3, 64, id="allconv"),
    pytest.param(models.create("resnet20"), 32, 3, 32, id="resnet20"),
]


@pytest.mark.parametrize("model,size,channels,batch", XLA_CASES)
def test_prediction_within_30_percent_of_xla(model, size, channels, batch):
  fn, variables, x = _case(model, size, channels)
  predicted = analysis.training_memory(fn, x, variables=variables, optimizer="sgd",
                                       batch_size=batch, compare_xla=True)
  xla = predicted.xla["total_bytes"]
  assert predicted.total_bytes == pytest.approx(xla, rel=0.30)
  # The arguments agree to the byte: the parameters and the input batch (jit drops the
  # BatchNorm running statistics, which a train-mode forward pass does not read).
  assert predicted.xla["argument_bytes"] == (predicted.param_bytes
                                             + batch * size * size * channels * 4)
