"""oneDNN's convolution and batch norm (jcnn.kernels.onednn) against XLA, TensorFlow and Flax."""
import os
import subprocess
import sys

import flax.linen as flax_nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import kernels, nn
from jcnn.kernels import onednn
from jcnn.models import layers
from tests.helpers import conv_geometry, lax_conv, random_array, relative_error

# (x shape, kernel shape, stride, padding, dilation): ResNet-20's layers (3×3 at 16, 32
# and 64 channels, the strided 16 -> 32 with PyTorch's and with Flax's padding), the
# ImageNet stem, a 1×1 projection, and odd forms of each argument.
CASES = [
    ((2, 32, 32, 3), (3, 3, 3, 16), 1, ((1, 1), (1, 1)), 1),
    ((2, 16, 16, 32), (3, 3, 32, 32), 1, ((1, 1), (1, 1)), 1),
    ((2, 32, 32, 16), (3, 3, 16, 32), 2, ((1, 1), (1, 1)), 1),
    ((2, 32, 32, 16), (3, 3, 16, 32), 2, "SAME", 1),
    ((2, 32, 32, 3), (7, 7, 3, 64), 2, ((3, 3), (3, 3)), 1),
    ((2, 8, 8, 64), (1, 1, 64, 128), 2, "VALID", 1),
    ((2, 13, 11, 4), (3, 5, 4, 6), (2, 1), "SAME", 1),
    ((2, 13, 11, 4), (3, 2, 4, 6), 1, "VALID", (3, 2)),
    ((2, 9, 12, 3), (3, 3, 3, 5), 3, ((0, 2), (1, 0)), 1),
]

needs_onednn = pytest.mark.skipif(
    jax.default_backend() != "cpu" or not onednn.available(),
    reason="oneDNN path: CPU backend, Linux x86_64 with the onednn wheels and g++")


def test_available_wherever_ci_runs():
  """CI runs on Linux x86_64 with g++: the path must build there, not quietly fall back."""
  if not os.environ.get("CI"):
    pytest.skip("checked on CI")
  assert onednn.available()


@needs_onednn
@pytest.mark.parametrize("x_shape, k_shape, stride, padding, dilation", CASES)
def test_conv_forward_and_gradients_equal_lax(x_shape, k_shape, stride, padding, dilation):
  x, k = random_array(x_shape, 0), random_array(k_shape, 1)
  geometry = conv_geometry(x_shape, k_shape, stride, padding, dilation)
  expected = lax_conv(x, k, *geometry)
  actual = jax.jit(onednn.conv, static_argnums=(2, 3, 4))(x, k, *geometry)
  assert actual.shape == expected.shape
  assert relative_error(actual, expected) < 1e-5
  weights = random_array(expected.shape, 2)  # a loss that weighs every output differently

  def loss(conv):
    return lambda x, k: jnp.sum(jnp.tanh(conv(x, k, *geometry)) * weights)

  value, grads = jax.jit(jax.value_and_grad(loss(onednn.conv), argnums=(0, 1)))(x, k)
  ref_value, ref_grads = jax.value_and_grad(loss(lax_conv), argnums=(0, 1))(x, k)
  assert abs(value - ref_value) <= 1e-5 * abs(ref_value)
  for actual, expected in zip(grads, ref_grads):
    assert relative_error(actual, expected) < 1e-4


@needs_onednn
def test_conv_second_order_gradients_equal_lax():
  """Each call's derivative is built from the others: gradients of gradients are exact."""
  x, k = random_array((2, 9, 9, 4), 3), random_array((3, 3, 4, 6), 4)
  geometry = conv_geometry(x.shape, k.shape, 2, ((1, 0), (0, 1)), 1)

  def gradient_norm(conv):
    def loss(x, k):
      return jnp.sum(jnp.sin(conv(x, k, *geometry)))
    return lambda x, k: sum(jnp.sum(g * g) for g in jax.grad(loss, argnums=(0, 1))(x, k))

  actual = jax.jit(jax.grad(gradient_norm(onednn.conv), argnums=(0, 1)))(x, k)
  expected = jax.grad(gradient_norm(lax_conv), argnums=(0, 1))(x, k)
  for a, e in zip(actual, expected):
    assert relative_error(a, e) < 1e-4


@needs_onednn
def test_conv_value_and_kernel_gradient_equal_tensorflow():
  tf = pytest.importorskip("tensorflow")
  x, k = random_array((4, 16, 16, 16), 5), random_array((3, 3, 16, 32), 6)
  geometry = conv_geometry(x.shape, k.shape, 2, "SAME", 1)
  weights = random_array((4, 8, 8, 32), 7)
  actual, kernel_grad = jax.value_and_grad(
      lambda k: jnp.sum(onednn.conv(jnp.asarray(x), k, *geometry) * weights))(k)
  tf_k = tf.Variable(k)
  with tf.GradientTape() as tape:
    tf_value = tf.reduce_sum(tf.nn.conv2d(x, tf_k, 2, "SAME") * weights)
  assert abs(float(actual) - float(tf_value)) <= 1e-5 * abs(float(tf_value))
  assert relative_error(kernel_grad, tape.gradient(tf_value, tf_k).numpy()) < 1e-5


@needs_onednn
def test_conv_under_vmap_equals_lax():
  x, k = random_array((3, 2, 8, 8, 4), 8), random_array((3, 3, 4, 5), 9)
  geometry = conv_geometry(x.shape[1:], k.shape, 1, "SAME", 1)
  actual = jax.vmap(lambda x: onednn.conv(x, k, *geometry))(x)
  expected = jax.vmap(lambda x: lax_conv(x, k, *geometry))(x)
  assert relative_error(actual, expected) < 1e-5


@needs_onednn
def test_conv2d_hands_float32_convolutions_to_onednn():
  x, k = random_array((2, 16, 16, 32), 10), random_array((3, 3, 32, 32), 11)
  jaxpr = lambda f, *a: str(jax.make_jaxpr(f)(*a))
  assert "ffi_call" in jaxpr(lambda x, k: nn.conv2d(x, k), x, k)
  with kernels.use("xla"):
    assert "conv_general_dilated" in jaxpr(lambda x, k: nn.conv2d(x, k), x, k)
    assert "ffi_call" not in jaxpr(lambda x, k: nn.conv2d(x, k), x, k)
  bf16 = jnp.asarray(x, jnp.bfloat16), jnp.asarray(k, jnp.bfloat16)
  assert "conv_general_dilated" in jaxpr(lambda x, k: nn.conv2d(x, k), *bf16)
  depthwise = random_array((3, 3, 1, 32), 12)
  assert "ffi_call" not in jaxpr(lambda x, k: nn.depthwise_conv2d(x, k), x, depthwise)
  with pytest.raises(ValueError, match="groups=1 only"), kernels.use("onednn"):
    nn.conv2d(x, random_array((3, 3, 16, 32), 13), groups=2)
  with pytest.raises(ValueError, match="float32 only, got bfloat16"), kernels.use("onednn"):
    nn.conv2d(*bf16)


def _norm_reference(x, scale, bias, epsilon):
  """Training-mode batch norm in plain JAX: jcnn.nn.batch_norm on XLA's ops."""
  channels = x.shape[-1]
  with kernels.use("xla"):
    y, mean, var = nn.batch_norm(x, scale, bias, jnp.zeros(channels), jnp.ones(channels),
                                 train=True, momentum=0.0, epsilon=epsilon)
  return y, mean, var


@needs_onednn
@pytest.mark.parametrize("shape", [(8, 16, 16, 16), (4, 8, 8, 64), (32, 10)])
def test_batch_norm_values_and_gradients_equal_plain_jax(shape):
  x = random_array(shape, 14, scale=3.0, shift=2.0)
  scale, bias = random_array(shape[-1:], 15, 0.5, 1.0), random_array(shape[-1:], 16)
  weights = random_array(shape, 17)
  stat_weights = random_array((2,) + shape[-1:], 18)

  def fast(x, scale, bias):
    channels = x.shape[-1]
    y, mean, var = nn.batch_norm(x, scale, bias, jnp.zeros(channels), jnp.ones(channels),
                                 train=True, momentum=0.0, epsilon=1e-3)
    return y, mean, var

  def loss(norm):  # uses y and the statistics, so every cotangent is non-zero
    def f(x, scale, bias):
      y, mean, var = norm(x, scale, bias)
      return jnp.sum(jnp.tanh(y) * weights) + jnp.sum(stat_weights * jnp.stack([mean, var]))
    return f

  assert "ffi_call" in str(jax.make_jaxpr(fast)(x, scale, bias))
  for actual, expected in zip(jax.jit(fast)(x, scale, bias),
                              _norm_reference(x, scale, bias, 1e-3)):
    assert relative_error(actual, expected) < 1e-5
  grads = jax.jit(jax.grad(loss(fast), argnums=(0, 1, 2)))(x, scale, bias)
  ref_grads = jax.grad(loss(lambda *a: _norm_reference(*a, 1e-3)), argnums=(0, 1, 2))(
      x, scale, bias)
  for actual, expected in zip(grads, ref_grads):
    assert relative_error(actual, expected) < 1e-4


@needs_onednn
def test_batch_norm_second_order_gradients_equal_plain_jax():
  x = random_array((4, 6, 6, 8), 19, scale=2.0, shift=-1.0)
  scale, bias = random_array((8,), 20, 0.5, 1.0), random_array((8,), 21)

  def gradient_norm(norm):
    def loss(x, scale):
      return jnp.sum(jnp.sin(norm(x, scale, bias)[0]))
    return lambda x, scale: sum(jnp.sum(g * g) for g in jax.grad(loss, (0, 1))(x, scale))

  fast = lambda x, scale, bias: onednn.batch_norm_train(x, scale, bias, 1e-5)
  actual = jax.jit(jax.grad(gradient_norm(fast), argnums=(0, 1)))(x, scale)
  expected = jax.grad(gradient_norm(lambda *a: _norm_reference(*a, 1e-5)),
                      argnums=(0, 1))(x, scale)
  for a, e in zip(actual, expected):
    assert relative_error(a, e) < 1e-4


@pytest.mark.parametrize("train", [True, False])
def test_batch_norm_layer_equals_flax(train):
  """Same parameters, statistics and outputs as flax.linen.BatchNorm: checkpoints port."""
  x = random_array((8, 6, 6, 12), 22, scale=2.0, shift=1.0)
  ours = layers.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                          scale_init=flax_nn.initializers.constant(0.7))
  theirs = flax_nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                             scale_init=flax_nn.initializers.constant(0.7))
  variables = ours.init(jax.random.PRNGKey(0), x)
  flax_variables = theirs.init(jax.random.PRNGKey(0), x)
  assert jax.tree.structure(variables) == jax.tree.structure(flax_variables)
  assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(variables),
                                                  jax.tree.leaves(flax_variables)))
  variables = {**variables, "batch_stats": {"mean": jnp.full(12, 0.5),
                                            "var": jnp.full(12, 2.0)}}
  y, updates = ours.apply(variables, x, mutable=["batch_stats"])
  flax_y, flax_updates = theirs.apply(variables, x, mutable=["batch_stats"])
  assert y.dtype == flax_y.dtype == jnp.float32
  assert relative_error(y, flax_y) < 1e-5
  for name in ("mean", "var"):
    assert relative_error(updates["batch_stats"][name], flax_updates["batch_stats"][name]) < 1e-5
  # Under bfloat16 (jcnn.precision casts parameters and input) the output stays bfloat16.
  bf16 = jax.tree.map(lambda v: v.astype(jnp.bfloat16), variables["params"])
  out = ours.apply({**variables, "params": bf16}, x.astype(jnp.bfloat16),
                   mutable=["batch_stats"])[0]
  assert out.dtype == jnp.bfloat16



def test_flat_dense_layer_equals_flax_dense_on_the_flattened_map():
  """Same parameters (init included) and outputs as flax.linen.Dense on x.reshape(n, -1):
  Faster R-CNN's fc6 and the VGG checkpoints it starts from port unchanged."""
  x = random_array((10, 7, 7, 8), 23)
  ours, theirs = layers.FlatDense(16), flax_nn.Dense(16)
  variables = ours.init(jax.random.PRNGKey(0), x)
  flax_variables = theirs.init(jax.random.PRNGKey(0), x.reshape(10, -1))
  assert jax.tree.structure(variables) == jax.tree.structure(flax_variables)
  assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(variables),
                                                  jax.tree.leaves(flax_variables)))
  assert relative_error(ours.apply(variables, x),
                        theirs.apply(variables, x.reshape(10, -1))) < 1e-5
  bf16 = jax.tree.map(lambda v: v.astype(jnp.bfloat16), variables)
  assert ours.apply(bf16, x.astype(jnp.bfloat16)).dtype == jnp.bfloat16
  with pytest.raises(ValueError, match=r"need a map \[batch, h, w, c\], got shape \(10, 392\)"):
    ours.init(jax.random.PRNGKey(0), x.reshape(10, -1))

def _python(code: str, **env) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                        env={**os.environ, **env}, timeout=300)


@needs_onednn
def test_builds_from_scratch_into_the_cache_folder(tmp_path):
  result = _python("from jcnn.kernels import onednn; print(onednn.available()); "
                   "print(onednn.implementations((2, 16, 16, 16), (3, 3, 16, 16), (1, 1), "
                   "((1, 1), (1, 1)), (1, 1)))", JCNN_CACHE_DIR=str(tmp_path))
  assert result.returncode == 0, result.stderr
  available, kernels = result.stdout.splitlines()
  assert available == "True"
  assert len(kernels.split(" | ")) == 3 and "oneDNN" not in kernels  # three kernel names
  assert list(tmp_path.glob("onednn/*/libjcnn_onednn.so"))


def test_without_a_compiler_xla_keeps_the_work(tmp_path):
  code = ("import warnings, jax, numpy as np; from jcnn import nn; "
          "x = np.ones((2, 8, 8, 32), np.float32); k = np.ones((3, 3, 32, 32), np.float32); "
          "print('ffi_call' in str(jax.make_jaxpr(nn.conv2d)(x, k)))")
  result = _python(code, JCNN_CACHE_DIR=str(tmp_path), CXX="/nonexistent/g++")
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip() == "False"
  if jax.default_backend() == "cpu":
    assert "XLA's own convolutions and batch norm" in result.stderr
  result = _python(code, JCNN_KERNELS="xla")
  assert result.stdout.strip() == "False" and "XLA's own" not in result.stderr


_TWO_DEVICE_STEP = """
import jax, jax.numpy as jnp, re
from jcnn import kernels, nn, parallel
mesh = parallel.make_mesh()
x = jax.random.normal(jax.random.key(0), (8, 10, 10, 16))
k = jax.random.normal(jax.random.key(1), (3, 3, 16, 32)) * 0.1
loss = lambda x, k: jnp.sum(nn.conv2d(x, k, stride=2) ** 2)
step = jax.value_and_grad(loss, argnums=(0, 1))
run = jax.jit(parallel.traced_on(mesh, step),
              in_shardings=(parallel.batch_sharded(mesh), parallel.replicated(mesh)))
hlo = run.lower(x, k).as_text()
print(sorted(set(re.findall(r"JcnnConv\\w+", hlo))), "all-gather" in hlo)
with kernels.use("xla"):
  want = step(x, k)
got = run(x, k)
print(max(float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))
          for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want))))
"""


@needs_onednn
def test_on_two_devices_each_runs_onednn_on_its_rows_equal_to_xla():
  """traced_on's mesh: the three calls, run per device (no gather), value and both
  gradients (the kernel's summed over the devices) equal XLA's on the whole batch."""
  result = _python(_TWO_DEVICE_STEP, XLA_FLAGS="--xla_force_host_platform_device_count=2",
                   OMP_NUM_THREADS="1")
  assert result.returncode == 0, result.stderr
  targets, worst = result.stdout.splitlines()
  assert targets == "['JcnnConvForward', 'JcnnConvInputGrad', 'JcnnConvKernelGrad'] False"
  assert float(worst) < 1e-5
