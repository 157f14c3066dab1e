"""Deconvnet, guided backpropagation and the gradient against hand computations."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jcnn import nn as jnn
from jcnn import viz

KERNEL = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32).reshape(2, 2, 1, 1)


def conv_relu_pool(variables, x):
  """One layer as ZF's: 2×2 convolution (VALID), ReLU, 2×2 max pooling."""
  return jnn.max_pool(jax.nn.relu(jnn.conv2d(x, variables["k"], padding="VALID")), 2)


def test_deconvnet_projection_of_one_unit_is_the_filter_placed_at_the_switch():
  x = np.random.default_rng(0).permutation(25).astype(np.float32).reshape(1, 5, 5, 1) / 25
  variables = {"k": jnp.asarray(KERNEL)}
  y = conv_relu_pool(variables, x)                          # [1, 2, 2, 1]
  seed = viz.keep_units(y, [(0, 0, 1, 0)])
  projection = np.asarray(viz.Backprojector(conv_relu_pool, variables)(x, seed))

  # By hand: the activation map, the switch in the window (rows 0-1, columns 2-3),
  # the value unpooled there, rectified, and filtered with the transposed kernel.
  k = KERNEL[:, :, 0, 0]
  conv = np.array([[np.sum(x[0, i:i + 2, j:j + 2, 0] * k) for j in range(4)]
                   for i in range(4)])
  window = np.maximum(conv, 0)[0:2, 2:4]
  i, j = np.unravel_index(np.argmax(window), window.shape)
  i, j = i + 0, j + 2
  value = float(y[0, 0, 1, 0])
  assert value == pytest.approx(max(conv[i, j], 0))
  expected = np.zeros((5, 5))
  expected[i:i + 2, j:j + 2] = max(value, 0) * k
  np.testing.assert_allclose(projection[0, :, :, 0], expected, rtol=1e-6, atol=1e-7)


def test_a_negative_signal_is_rectified_by_the_deconvnet_and_guided_rules_only():
  x = np.random.default_rng(1).standard_normal((1, 5, 5, 1)).astype(np.float32)
  variables = {"k": jnp.asarray(KERNEL)}
  y = conv_relu_pool(variables, x)
  assert float(y[0, 0, 0, 0]) > 0        # an active unit, so the gradient passes
  seed = jnp.zeros_like(y).at[0, 0, 0, 0].set(-1.0)
  out = {r: np.asarray(viz.Backprojector(conv_relu_pool, variables, r)(x, seed))
         for r in viz.RULES}
  assert np.abs(out["gradient"]).sum() > 0
  np.testing.assert_array_equal(out["deconvnet"], 0)
  np.testing.assert_array_equal(out["guided"], 0)


def two_layers(variables, x):
  h = jax.nn.relu(lax.conv(x.transpose(0, 3, 1, 2), variables["k1"], (1, 1), "SAME"))
  z = jnp.maximum(lax.conv(h, variables["k2"], (1, 1), "SAME"), 0)   # the other ReLU form
  return z.transpose(0, 2, 3, 1)


def test_the_three_rules_follow_their_definitions_layer_by_layer():
  rng = np.random.default_rng(2)
  variables = {"k1": jnp.asarray(rng.standard_normal((4, 2, 3, 3)), jnp.float32),
               "k2": jnp.asarray(rng.standard_normal((3, 4, 3, 3)), jnp.float32)}
  x = jnp.asarray(rng.standard_normal((2, 6, 6, 2)), jnp.float32)
  seed = jnp.asarray(rng.standard_normal((2, 6, 6, 3)), jnp.float32)
  # The linear parts and their transposes, and the pre-activations, by hand.
  nchw = lambda a: a.transpose(0, 3, 1, 2)
  conv1 = lambda a: lax.conv(nchw(a), variables["k1"], (1, 1), "SAME").transpose(0, 2, 3, 1)
  conv2 = lambda a: lax.conv(nchw(a), variables["k2"], (1, 1), "SAME").transpose(0, 2, 3, 1)
  z1 = conv1(x)
  z2 = conv2(jax.nn.relu(z1))
  t1 = lambda g: jax.linear_transpose(conv1, x)(g)[0]
  t2 = lambda g: jax.linear_transpose(conv2, z1)(g)[0]
  relu = lambda g: jnp.maximum(g, 0)
  expected = {
      "gradient": t1(t2(seed * (z2 > 0)) * (z1 > 0)),
      "deconvnet": t1(relu(t2(relu(seed)))),
      "guided": t1(relu(t2(relu(seed) * (z2 > 0))) * (z1 > 0)),
  }
  for rule, want in expected.items():
    got = viz.Backprojector(two_layers, variables, rule)(x, seed)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=rule)
  gradient = jax.vjp(lambda x: two_layers(variables, x), x)[1](seed)[0]
  np.testing.assert_allclose(expected["gradient"], gradient, rtol=1e-4, atol=1e-4)


def test_switches_are_reported_only_where_the_model_max_pools():
  variables = {"k": jnp.asarray(KERNEL)}
  x = jnp.ones((1, 5, 5, 1))
  assert viz.Backprojector(conv_relu_pool, variables).has_switches(x)
  strided = lambda v, x: jax.nn.relu(jnn.conv2d(x, v["k"], stride=2, padding="VALID"))
  assert not viz.Backprojector(strided, variables).has_switches(x)


def test_keep_channel_zeroes_every_other_map():
  y = jnp.arange(2 * 2 * 2 * 3, dtype=jnp.float32).reshape(2, 2, 2, 3)
  kept = np.asarray(viz.keep_channel(y, 1))
  np.testing.assert_array_equal(kept[..., 1], np.asarray(y[..., 1]))
  np.testing.assert_array_equal(kept[..., [0, 2]], 0)


def test_bad_rule_seed_and_class():
  variables = {"k": jnp.asarray(KERNEL)}
  with pytest.raises(ValueError, match="unknown backward rule 'deconv'"):
    viz.Backprojector(conv_relu_pool, variables, "deconv")
  with pytest.raises(ValueError, match=r"seed has shape \(1, 3, 3, 1\)"):
    viz.Backprojector(conv_relu_pool, variables)(jnp.ones((1, 5, 5, 1)), jnp.ones((1, 3, 3, 1)))
  with pytest.raises(ValueError, match="channel 4 out of range"):
    viz.keep_channel(jnp.ones((1, 2, 2, 1)), 4)
  logits = lambda v, x: conv_relu_pool(v, x).reshape(x.shape[0], -1)  # 4 "classes"
  with pytest.raises(ValueError, match=r"class labels \[7\] out of range for 4 classes"):
    viz.class_projections(logits, variables, jnp.ones((1, 5, 5, 1)), [7])
