"""conv2d and depthwise_conv2d against lax and TensorFlow."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import jcnn.padding
from jcnn import nn


@pytest.fixture(scope="module")
def tf():
  return pytest.importorskip("tensorflow")


def _random(shape, seed):
  return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_matches_lax_with_bias():
  x, k, b = _random((2, 9, 9, 3), 0), _random((3, 3, 3, 5), 1), _random((5,), 2)
  expected = lax.conv_general_dilated(
      x, k, (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")) + b
  np.testing.assert_allclose(nn.conv2d(x, k, b, stride=2), expected, rtol=1e-6)


@pytest.mark.parametrize("stride, padding, dilation", [
    (1, "SAME", 1),
    (2, "SAME", 1),
    (3, "VALID", 1),
    ((2, 1), "VALID", 1),
    (1, "SAME", 2),
    (1, "VALID", (3, 2)),
    (2, 1, 1),
    (1, (2, 0), 1),
    (2, ((0, 1), (2, 1)), 1),
])
def test_matches_tensorflow(tf, stride, padding, dilation):
  x, k = _random((2, 13, 11, 4), 3), _random((3, 5, 4, 6), 4)
  if isinstance(padding, str):
    tf_padding = padding
  else:
    pads = jcnn.padding.spatial_padding(padding)
    tf_padding = [[0, 0], list(pads[0]), list(pads[1]), [0, 0]]
  expected = tf.nn.conv2d(x, k, strides=stride, padding=tf_padding,
                          dilations=dilation).numpy()
  actual = nn.conv2d(x, k, stride=stride, padding=padding, dilation=dilation)
  assert actual.shape == expected.shape
  np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)


def test_grouped_equals_concatenated_per_group_convs():
  x, k = _random((2, 8, 8, 6), 5), _random((3, 3, 2, 9), 6)
  per_group = [nn.conv2d(x[..., 2 * g:2 * g + 2], k[..., 3 * g:3 * g + 3])
               for g in range(3)]
  np.testing.assert_allclose(nn.conv2d(x, k, groups=3),
                             jnp.concatenate(per_group, axis=-1), rtol=1e-5, atol=1e-5)


def test_depthwise_matches_tensorflow(tf):
  x, k = _random((2, 7, 7, 3), 7), _random((3, 3, 3, 2), 8)
  expected = tf.nn.depthwise_conv2d(x, k, strides=[1, 1, 1, 1], padding="SAME")
  actual = nn.depthwise_conv2d(x, k.reshape(3, 3, 1, 6))
  np.testing.assert_allclose(actual, expected.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("padding", [((1, 3), (0, 2)), [[1, 3], [0, 2]],
                                     ((np.int64(1), 3), (0, np.int32(2)))])
def test_asymmetric_padding_equals_explicit_pad_then_valid(padding):
  x, k = _random((1, 10, 9, 2), 9), _random((4, 3, 2, 3), 10)
  padded = jnp.pad(x, ((0, 0), (1, 3), (0, 2), (0, 0)))
  np.testing.assert_allclose(
      nn.conv2d(x, k, padding=padding, stride=2),
      nn.conv2d(padded, k, padding="VALID", stride=2), rtol=1e-6)


def test_alexnet_conv1_output_shape():
  x = jax.ShapeDtypeStruct((1, 227, 227, 3), jnp.float32)
  k = jax.ShapeDtypeStruct((11, 11, 3, 96), jnp.float32)
  out = jax.eval_shape(lambda x, k: nn.conv2d(x, k, stride=4, padding="VALID"), x, k)
  assert out.shape == (1, 55, 55, 96)


def test_alexnet_grouped_conv2_shape():
  x = jax.ShapeDtypeStruct((1, 27, 27, 96), jnp.float32)
  k = jax.ShapeDtypeStruct((5, 5, 48, 256), jnp.float32)
  out = jax.eval_shape(lambda x, k: nn.conv2d(x, k, padding=2, groups=2), x, k)
  assert out.shape == (1, 27, 27, 256)


@pytest.mark.parametrize("x_shape, k_shape, kwargs, match", [
    ((8, 8, 3), (3, 3, 3, 4), {}, "4-D"),
    ((1, 8, 8, 6), (3, 3, 6, 4), {"groups": 4}, "divisible by groups=4"),
    ((1, 8, 8, 6), (3, 3, 6, 4), {"groups": 2}, "in-channels 6 / groups 2 = 3"),
    ((1, 8, 8, 3), (3, 3, 2, 4), {}, r"\(1, 8, 8, 3\)"),
    ((1, 8, 8, 3), (3, 3, 3, 4), {"padding": "FULL"}, "'FULL'"),
    ((1, 8, 8, 3), (3, 3, 3, 4), {"padding": -1}, "non-negative"),
    ((1, 8, 8, 3), (3, 3, 3, 4), {"stride": 0}, "stride"),
])
def test_bad_arguments_raise(x_shape, k_shape, kwargs, match):
  with pytest.raises(ValueError, match=match):
    nn.conv2d(jnp.zeros(x_shape), jnp.zeros(k_shape), **kwargs)


def test_bias_shape_checked():
  with pytest.raises(ValueError, match=r"\(4,\)"):
    nn.conv2d(jnp.zeros((1, 4, 4, 3)), jnp.zeros((3, 3, 3, 4)), jnp.zeros((3,)))
