"""Dense heads turned into convolutions: same logits at the training size, score maps of
the right size on larger images (VGG's dense evaluation, Simonyan & Zisserman Sec. 3.2).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import models
from jcnn.models.convolutionalize import convolutionalize


def _abstract(model, size):
  return models.abstract_variables(model, (size, size, 3))


def _generic_variables(model, size):
  """Uniform weights of variance 1 / fan-in (LeCun's scale), drawn with NumPy.

  `model.init` would also run the network and draw 60-130M JAX normals: tens of seconds
  on a CPU.
  """
  rng = np.random.default_rng(0)

  def draw(path, leaf):
    noise = np.sqrt(12.0, dtype=np.float32) * (rng.random(leaf.shape, np.float32) - 0.5)
    if path[-1].key == "kernel":
      return jnp.asarray(noise / np.sqrt(np.prod(leaf.shape[:-1])))
    return jnp.asarray(0.1 * noise)

  return jax.tree_util.tree_map_with_path(draw, _abstract(model, size))


@pytest.mark.parametrize("name", ["alexnet", "alexnet_1tower", "zfnet", "vgg11"])
def test_convolutional_head_gives_the_same_logits(name):
  model = models.create(name, num_classes=7)
  size = models.info(name).input_shape[0]
  x = jax.random.normal(jax.random.PRNGKey(0), (1, size, size, 3))
  variables = _generic_variables(model, size)
  logits = model.apply(variables, x, train=False)

  fcn, fcn_variables = convolutionalize(model, variables)
  scores = fcn.apply(fcn_variables, x, train=False)
  assert scores.shape == (1, 1, 1, 7)
  np.testing.assert_allclose(scores[:, 0, 0], logits, rtol=1e-5, atol=1e-5)
  # Pure: the dense variables are untouched, the rest is carried over as it is.
  assert variables["params"]["classifier"]["fc6"]["kernel"].ndim == 2
  for layer, leaves in variables["params"].items():
    if layer != "classifier":
      assert fcn_variables["params"][layer] is leaves


@pytest.mark.parametrize("name, size, map_size", [
    # VGG: 384 / 32 = 12 maps, a 7×7 FC6 window -> 6×6 scores.
    ("vgg16", 384, 6),
    # 256 / 32 = 8 -> 2×2; BatchNorm statistics carried over.
    ("vgg16_c_bn", 256, 2),
    # AlexNet at 355: conv1 87 -> pool 43 -> pool 21 -> pool 10 -> 6×6 FC6 -> 5×5.
    ("alexnet", 355, 5),
    # ZFNet at 256: conv1 126 -> pool 63 -> conv2 30 -> pool 15 -> pool 7 -> 2×2.
    ("zfnet", 256, 2),
    # torchvision AlexNet at 320: conv1 79 -> pool 39 -> pool 19 -> pool 9 -> 4×4.
    ("alexnet_1tower", 320, 4),
])
def test_larger_images_give_score_maps(name, size, map_size):
  model = models.create(name)
  dense = _abstract(model, models.info(name).input_shape[0])
  fcn = jax.eval_shape(lambda v: convolutionalize(model, v)[1], dense)
  fcn_model = model.clone(fully_convolutional=True)
  head = fcn["params"]["classifier"]
  window = 7 if name.startswith("vgg") else 6
  channels = 512 if name.startswith("vgg") else 256
  assert head["fc6"]["kernel"].shape == (window, window, channels, 4096)
  assert head["fc7"]["kernel"].shape == (1, 1, 4096, 4096)
  assert head["fc8"]["kernel"].shape == (1, 1, 4096, 1000)
  # The reshaped tree is exactly what a fully convolutional model initialises.
  assert jax.tree.map(lambda a: a.shape, fcn) == jax.tree.map(
      lambda a: a.shape, _abstract(fcn_model, size))
  out = jax.eval_shape(lambda v: fcn_model.apply(v, jnp.zeros((1, size, size, 3))), fcn)
  assert out.shape == (1, map_size, map_size, 1000)


def test_only_dense_heads_convolutionalize():
  mobilenet = models.create("mobilenet_v1")
  with pytest.raises(ValueError, match="MobileNetV1 has no dense head"):
    convolutionalize(mobilenet, {"params": {}})
  fcn = models.create("vgg11", fully_convolutional=True)
  with pytest.raises(ValueError, match="VGG has no dense head"):
    convolutionalize(fcn, {"params": {}})
  with pytest.raises(ValueError, match=r"at least 224"):
    fcn.init(jax.random.PRNGKey(0), jnp.zeros((1, 200, 200, 3)))
