"""jcnn.kernels: the one switch picks each implementation, and refuses what cannot run."""
import re

import jax
import jax.numpy as jnp
import pytest

from jcnn import kernels, nn
from tests.helpers import random_array

needs_onednn = pytest.mark.skipif(
    jax.default_backend() != "cpu" or not kernels.onednn.available(),
    reason="oneDNN path: CPU backend, Linux x86_64 with the onednn wheels and g++")

X, K = random_array((2, 8, 8, 4), 0), random_array((3, 3, 4, 6), 1)
# ResNet-20's 64-channel layer: too wide for the band's rule.
RESNET = jax.ShapeDtypeStruct((128, 8, 8, 64), jnp.float32), jax.ShapeDtypeStruct(
    (3, 3, 64, 64), jnp.float32)
SAME_3X3 = (1, 1), ((1, 1), (1, 1)), (1, 1), 1


def _conv_jaxpr() -> str:
  """The jaxpr of a convolution's value and both gradients, traced afresh."""
  loss = lambda x, k: jnp.sum(nn.conv2d(x, k) ** 2)
  return str(jax.make_jaxpr(jax.value_and_grad(loss, argnums=(0, 1)))(X, K))


def _norm_jaxpr() -> str:
  """The jaxpr of a training batch norm and its gradient, traced afresh."""
  ones = jnp.ones(X.shape[-1])
  loss = lambda x: jnp.sum(nn.batch_norm(x, ones, ones, ones, ones, train=True)[0] ** 2)
  return str(jax.make_jaxpr(jax.grad(loss))(X))


def _targets(jaxpr: str) -> set[str]:
  return set(re.findall(r"target_name=(\w+)", jaxpr))


def _ran(jaxpr: str) -> str:
  """Which implementation a convolution's jaxpr shows."""
  if _targets(jaxpr) >= {"JcnnConvForward", "JcnnConvInputGrad", "JcnnConvKernelGrad"}:
    return "onednn"
  if "dot_general" in jaxpr and "conv_general_dilated" not in jaxpr:
    return "banded"
  if "conv_general_dilated" in jaxpr and not _targets(jaxpr) and "dot_general" not in jaxpr:
    return "xla"
  return "mixed"


def _names():
  return ["xla", "banded", pytest.param("onednn", marks=needs_onednn)]


@pytest.mark.parametrize("name", _names())
def test_use_selects_each_implementation(name):
  with kernels.use(name):
    assert _ran(_conv_jaxpr()) == name
    assert kernels.conv_implementation(X, K, *SAME_3X3) == name
    norm = _norm_jaxpr()
  # Batch norm has no banded form: it runs XLA's ops there.
  assert _targets(norm) == ({"JcnnNormForward", "JcnnNormBackward"} if name == "onednn"
                            else set())


@pytest.mark.parametrize("name", _names())
def test_the_environment_variable_selects_each_implementation(name, monkeypatch):
  monkeypatch.setenv("JCNN_KERNELS", name)
  assert kernels.requested() == name
  assert _ran(_conv_jaxpr()) == name
  with kernels.use("xla"):  # the context manager takes precedence
    assert _ran(_conv_jaxpr()) == "xla"
  assert _ran(_conv_jaxpr()) == name


@needs_onednn
def test_auto_is_the_default_and_the_innermost_use_wins(monkeypatch):
  monkeypatch.delenv("JCNN_KERNELS", raising=False)
  assert kernels.requested() == "auto"
  assert _ran(_conv_jaxpr()) == "onednn"
  assert _targets(_norm_jaxpr()) == {"JcnnNormForward", "JcnnNormBackward"}
  with kernels.use("xla"):
    with kernels.use("banded"):
      assert _ran(_conv_jaxpr()) == "banded"
    assert _ran(_conv_jaxpr()) == "xla"
    with kernels.use("auto"):
      assert _ran(_conv_jaxpr()) == "onednn"
  assert kernels.requested() == "auto"


def test_unknown_names_are_refused_with_the_valid_ones():
  with pytest.raises(ValueError, match="one of auto, xla, onednn, banded; got 'fast'"):
    with kernels.use("fast"):
      pass


def test_an_unknown_environment_value_is_refused(monkeypatch):
  monkeypatch.setenv("JCNN_KERNELS", "0")
  with pytest.raises(ValueError, match=r"\$JCNN_KERNELS must be one of auto, xla, onednn, "
                                       r"banded; got '0'"):
    nn.conv2d(X, K)


@pytest.mark.parametrize("name", ["banded", "onednn"])
def test_forcing_a_kernel_onto_grouped_convolutions_raises(name):
  with pytest.raises(ValueError, match=f"the {name} kernel takes groups=1 only, got groups=2"):
    with kernels.use(name):
      nn.conv2d(X, random_array((3, 3, 2, 6), 2), groups=2)
  with kernels.use("xla"):
    assert nn.conv2d(X, random_array((3, 3, 2, 6), 2), groups=2).shape == (2, 8, 8, 6)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the CPU's rules")
def test_forcing_onednn_where_it_cannot_run_raises(monkeypatch):
  bf16 = jax.ShapeDtypeStruct(X.shape, jnp.bfloat16), jax.ShapeDtypeStruct(K.shape, jnp.bfloat16)
  scale = jax.ShapeDtypeStruct(X.shape[-1:], jnp.float32)
  with kernels.use("onednn"):
    with pytest.raises(ValueError, match="float32 only, got bfloat16, bfloat16"):
      kernels.conv_implementation(*bf16, *SAME_3X3)
    with pytest.raises(ValueError, match="cannot run this dense layer: oneDNN takes float32"):
      kernels.flat_dense(X.astype(jnp.bfloat16), jnp.zeros((8 * 8 * 4, 3), jnp.bfloat16))
    with pytest.raises(ValueError, match="across devices \\(axis_name='data'\\)"):
      kernels.batch_norm_implementation(X, scale, scale, "data")
    monkeypatch.setattr(kernels.onednn, "available", lambda: False)
    monkeypatch.setattr(kernels.onednn, "unavailable_reason", lambda: "no C++ compiler")
    with pytest.raises(ValueError, match=r"cannot run this convolution: no C\+\+ compiler"):
      kernels.conv_implementation(X, K, *SAME_3X3)
    with pytest.raises(ValueError, match=r"cannot run this batch norm: no C\+\+ compiler"):
      kernels.batch_norm_implementation(X, scale, scale, None)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the CPU's rules")
def test_auto_falls_back_where_onednn_cannot_run(monkeypatch):
  """No oneDNN: thin layers take the band's rule, the rest and batch norm XLA's ops."""
  monkeypatch.delenv("JCNN_KERNELS", raising=False)
  monkeypatch.setattr(kernels.onednn, "available", lambda: False)
  monkeypatch.setattr(kernels.onednn, "unavailable_reason", lambda: "no C++ compiler")
  assert kernels.conv_implementation(X, K, *SAME_3X3) == "banded"
  assert kernels.conv_implementation(*RESNET, *SAME_3X3) == "xla"
  assert kernels.batch_norm_implementation(X, X[0, 0, 0], X[0, 0, 0], None) == "xla"


@needs_onednn
def test_auto_keeps_onednn_off_several_devices_without_a_mesh(monkeypatch):
  """XLA would gather a custom call's operands onto every device; the band has no calls."""
  monkeypatch.delenv("JCNN_KERNELS", raising=False)
  scale = X[0, 0, 0]
  assert kernels.conv_implementation(*RESNET, *SAME_3X3) == "onednn"
  assert kernels.conv_implementation(X, K, *SAME_3X3) == "onednn"
  assert kernels.batch_norm_implementation(X, scale, scale, None) == "onednn"
  assert kernels.batch_norm_implementation(X, scale, scale, "data") == "xla"
  monkeypatch.setattr(kernels.jax, "device_count", lambda: 2)
  assert kernels.conv_implementation(*RESNET, *SAME_3X3) == "xla"
  assert kernels.conv_implementation(X, K, *SAME_3X3) == "banded"
  assert kernels.batch_norm_implementation(X, scale, scale, None) == "xla"


@needs_onednn
def test_auto_runs_onednn_per_device_of_a_context_mesh(monkeypatch):
  """Under a 2-device data mesh: convolutions whose batch splits run oneDNN (shard_map),
  the rest fall back as without oneDNN; batch norm keeps XLA's global statistics."""
  monkeypatch.delenv("JCNN_KERNELS", raising=False)
  monkeypatch.setattr(kernels.jax, "device_count", lambda: 2)
  scale = X[0, 0, 0]
  odd = jax.ShapeDtypeStruct((127, 8, 8, 64), jnp.float32), RESNET[1]
  with jax.sharding.use_abstract_mesh(jax.sharding.AbstractMesh((2,), ("data",))):
    assert kernels.devices_per_call() == 2
    assert kernels.conv_implementation(*RESNET, *SAME_3X3) == "onednn"
    assert kernels.conv_implementation(X, K, *SAME_3X3) == "onednn"  # batch 2 splits
    assert kernels.conv_implementation(*odd, *SAME_3X3) == "xla"
    assert kernels.batch_norm_implementation(X, scale, scale, None) == "xla"
    with kernels.use("onednn"), pytest.raises(ValueError, match="across the context mesh"):
      kernels.batch_norm_implementation(X, scale, scale, None)
  with jax.sharding.use_abstract_mesh(jax.sharding.AbstractMesh((1,), ("data",))):
    assert kernels.batch_norm_implementation(X, scale, scale, None) == "onednn"


@pytest.mark.parametrize("name", ["auto", "xla", "banded",
                                  pytest.param("onednn", marks=needs_onednn)])
def test_flat_dense_is_the_flattened_product_with_its_gradients(name, monkeypatch):
  """oneDNN's map-sized convolution where it pays (CPU, float32), else one dot."""
  monkeypatch.delenv("JCNN_KERNELS", raising=False)
  x, k = random_array((6, 3, 2, 4), 2), random_array((24, 5), 3)
  loss = lambda dense: lambda x, k: jnp.sum(jnp.sin(dense(x, k)))
  grads = lambda dense: jax.value_and_grad(loss(dense), argnums=(0, 1))
  with kernels.use(name):
    jaxpr = str(jax.make_jaxpr(grads(kernels.flat_dense))(x, k))
    value, (dx, dk) = grads(kernels.flat_dense)(x, k)
  want, (want_dx, want_dk) = grads(lambda x, k: x.reshape(6, -1) @ k)(x, k)
  for got, expected in ((value, want), (dx, want_dx), (dk, want_dk)):
    assert got.shape == expected.shape
    assert jnp.allclose(got, expected, rtol=1e-5, atol=1e-5)
  onednn = name == "onednn" or (name == "auto" and kernels.onednn.available()
                                and jax.default_backend() == "cpu")
  assert _targets(jaxpr) == ({"JcnnConvForward", "JcnnConvInputGrad", "JcnnConvKernelGrad"}
                             if onednn else set())
  # Under "auto", bfloat16 and over 1,024 outputs (VGG-16's fc6) take XLA's product.
  bf16 = x.astype(jnp.bfloat16), k.astype(jnp.bfloat16)
  wide = x, jax.ShapeDtypeStruct((24, 4096), jnp.float32)
  for operands in (bf16, wide):
    with kernels.use(name if name != "onednn" else "auto"):
      jaxpr = str(jax.make_jaxpr(kernels.flat_dense)(*operands))
    assert not _targets(jaxpr) and "dot_general" in jaxpr
