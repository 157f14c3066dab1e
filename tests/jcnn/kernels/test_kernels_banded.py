"""The banded-GEMM convolution path against lax.conv_general_dilated and TensorFlow."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import kernels, nn
from jcnn.analysis import jaxpr_walk
from jcnn.kernels import banded
from tests.helpers import conv_geometry, lax_conv, random_array, relative_error

# (x shape, kernel shape, stride, padding, dilation): LeNet-5's three layers, LeNet-5
# 1998's strided H1, the TF tutorial's first layer, and odd forms of each argument.
CASES = [
    ((4, 32, 32, 1), (5, 5, 1, 6), 1, "VALID", 1),
    ((4, 14, 14, 6), (5, 5, 6, 16), 1, "VALID", 1),
    ((4, 5, 5, 16), (5, 5, 16, 120), 1, "VALID", 1),
    ((4, 16, 16, 1), (5, 5, 1, 12), 2, ((2, 1), (2, 1)), 1),
    ((3, 28, 28, 1), (5, 5, 1, 32), 1, "SAME", 1),
    ((2, 13, 11, 4), (3, 5, 4, 6), (2, 1), "SAME", 1),
    ((2, 13, 11, 4), (3, 2, 4, 6), 1, "VALID", (3, 2)),
    ((2, 9, 12, 3), (3, 3, 3, 5), 3, ((0, 2), (1, 0)), 1),
    ((2, 7, 6, 8), (7, 6, 8, 10), 1, "VALID", 1),
]


# The path is for XLA:CPU; on other backends "auto" always leaves convolutions to XLA.
cpu_only = pytest.mark.skipif(jax.default_backend() != "cpu", reason="the GEMM path is CPU-only")
needs_onednn = pytest.mark.skipif(
    jax.default_backend() != "cpu" or not kernels.onednn.available(),
    reason="oneDNN path: CPU backend, Linux x86_64 with the onednn wheels and g++")


@pytest.mark.parametrize("x_shape, k_shape, stride, padding, dilation", CASES)
def test_forward_equals_lax(x_shape, k_shape, stride, padding, dilation):
  x, k = random_array(x_shape, 0), random_array(k_shape, 1)
  args = conv_geometry(x_shape, k_shape, stride, padding, dilation)
  actual = banded.conv(x, k, *args)
  expected = lax_conv(x, k, *args)
  assert actual.shape == expected.shape
  assert relative_error(actual, expected) < 1e-5


@pytest.mark.parametrize("x_shape, k_shape, stride, padding, dilation", CASES)
def test_gradients_equal_lax(x_shape, k_shape, stride, padding, dilation):
  x, k = random_array(x_shape, 2), random_array(k_shape, 3)
  args = conv_geometry(x_shape, k_shape, stride, padding, dilation)
  out_shape = lax_conv(x, k, *args).shape
  weights = random_array(out_shape, 4)  # a loss that weighs every output differently

  def loss(conv):
    return lambda x, k: jnp.sum(jnp.tanh(conv(x, k, *args)) * weights)

  value, grads = jax.jit(jax.value_and_grad(loss(banded.conv), argnums=(0, 1)))(x, k)
  ref_value, ref_grads = jax.value_and_grad(loss(lax_conv), argnums=(0, 1))(x, k)
  assert abs(value - ref_value) <= 1e-4 * abs(ref_value)
  for actual, expected in zip(grads, ref_grads):
    assert relative_error(actual, expected) < 1e-4


@cpu_only
def test_jaxpr_analyses_see_a_convolution():
  x, k = random_array((2, 14, 14, 6), 5), random_array((5, 5, 6, 16), 6)
  conv = lambda x, k: nn.conv2d(x, k, padding="VALID")
  # On the CPU it runs as banded GEMMs or oneDNN, not XLA's convolution.
  assert "conv_general_dilated" not in str(jax.make_jaxpr(conv)(x, k))
  with kernels.use("xla"):
    assert "conv_general_dilated" in str(jax.make_jaxpr(lambda *a: conv(*a))(x, k))
  # The analyses' entry point, after `conv` was traced outside the context above.
  primitives = [node.primitive.name for node in jaxpr_walk.trace(conv, x, k).nodes]
  assert "conv_general_dilated" in primitives
  assert not {"dot_general", "ffi_call"} & set(primitives)


def _chosen(x_shape, k_shape, stride=1, padding="VALID", dilation=1, groups=1,
            dtype=jnp.float32):
  """What "auto" runs for these shapes, as conv2d resolves the geometry."""
  x, k = jax.ShapeDtypeStruct(x_shape, dtype), jax.ShapeDtypeStruct(k_shape, dtype)
  return kernels.conv_implementation(
      x, k, *conv_geometry(x_shape, k_shape, stride, padding, dilation), groups)


@cpu_only
def test_auto_takes_the_band_where_it_was_measured_faster_than_xla():
  """Where oneDNN cannot run (here bfloat16, as without a compiler): the band's rule."""
  faster = lambda *a, **kw: _chosen(*a, dtype=jnp.bfloat16, **kw) == "banded"
  assert faster((128, 32, 32, 1), (5, 5, 1, 6))  # LeNet-5 C1
  assert faster((128, 14, 14, 6), (5, 5, 6, 16))  # C3
  assert faster((128, 5, 5, 16), (5, 5, 16, 120))  # C5: a dense layer
  assert faster((128, 1, 1, 512), (1, 1, 512, 1024))  # MobileNet's last 1×1 on CIFAR
  assert not faster((128, 32, 32, 3), (3, 3, 3, 16), padding="SAME")  # ResNet-20's stem
  assert not faster((128, 32, 32, 16), (3, 3, 16, 16), padding="SAME")  # its blocks
  assert not faster((128, 8, 8, 64), (3, 3, 64, 64), padding="SAME")
  assert not faster((128, 14, 14, 6), (5, 5, 3, 16), groups=2)  # grouped
  assert not faster((128, 16, 16, 1), (5, 5, 1, 12), stride=2)  # strided
  assert not faster((128, 32, 32, 1), (5, 5, 1, 16))  # XLA vectorises 16 outputs
  assert faster((128, 14, 14, 16), (5, 5, 16, 16))
  assert _chosen((128, 32, 32, 16), (3, 3, 16, 16), padding="SAME",
                 dtype=jnp.bfloat16) == "xla"


@needs_onednn
def test_against_onednn_the_band_wins_only_as_a_dense_layer():
  assert _chosen((128, 32, 32, 1), (5, 5, 1, 6)) == "onednn"
  assert _chosen((128, 14, 14, 6), (5, 5, 6, 16)) == "onednn"
  assert _chosen((128, 5, 5, 16), (5, 5, 16, 120)) == "banded"
  assert _chosen((128, 1, 1, 512), (1, 1, 512, 1024)) == "banded"
  # The padded width counts: 3 wide plus 1 + 1 padding is not covered by a 3-wide kernel.
  assert _chosen((128, 3, 3, 16), (3, 3, 16, 32), padding=1) == "onednn"
  assert _chosen((128, 14, 14, 6), (5, 5, 3, 16), groups=2) == "xla"


def test_conv2d_gemm_path_matches_tensorflow_with_bias():
  tf = pytest.importorskip("tensorflow")
  x, k, b = random_array((2, 16, 16, 1), 7), random_array((5, 5, 1, 12), 8), random_array((12,), 9)
  expected = tf.nn.conv2d(x, k, strides=2, padding=[[0, 0], [2, 1], [2, 1], [0, 0]]) + b

  def loss(x, k, b):
    with kernels.use("banded"):
      return nn.conv2d(x, k, b, stride=2, padding=((2, 1), (2, 1)))

  assert "dot_general" in str(jax.make_jaxpr(loss)(x, k, b))
  np.testing.assert_allclose(loss(x, k, b), expected.numpy(), rtol=1e-4, atol=1e-4)
  with tf.GradientTape() as tape:
    kt = tf.Variable(k)
    tf_loss = tf.reduce_sum((tf.nn.conv2d(x, kt, strides=2,
                                          padding=[[0, 0], [2, 1], [2, 1], [0, 0]]) + b) ** 2)
  tf_grad = tape.gradient(tf_loss, kt).numpy()
  grad = jax.grad(lambda k: jnp.sum(loss(x, k, b) ** 2))(k)
  np.testing.assert_allclose(grad, tf_grad, rtol=1e-4, atol=1e-3)


def test_bfloat16_stays_bfloat16():
  x = jnp.asarray(random_array((2, 14, 14, 6), 10), jnp.bfloat16)
  k = jnp.asarray(random_array((5, 5, 6, 16), 11), jnp.bfloat16)
  with kernels.use("banded"):
    y, grad = jax.value_and_grad(
        lambda k: jnp.sum(nn.conv2d(x, k, padding="VALID").astype(jnp.float32)))(k)
  assert grad.dtype == jnp.bfloat16
  with kernels.use("xla"):
    expected = jax.grad(lambda k: jnp.sum(nn.conv2d(x.astype(jnp.float32), k,
                                                    padding="VALID")))(k.astype(jnp.float32))
  assert relative_error(grad.astype(jnp.float32), expected) < 2e-2


def test_gemm_path_refuses_groups():
  with pytest.raises(ValueError, match="banded kernel takes groups=1 only"), kernels.use("banded"):
    nn.conv2d(jnp.zeros((1, 8, 8, 4)), jnp.zeros((3, 3, 2, 4)), groups=2)
