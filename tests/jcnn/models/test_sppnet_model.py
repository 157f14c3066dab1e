"""SPP-net's network (jcnn.models.sppnet): one conv pass, a pyramid per window."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn.models import sppnet


def _model(**overrides):
  return sppnet.SPPNet(num_classes=3, backbone="lenet5", feature="s4", stride=4.0,
                       offset=8.0, hidden=(8, 6), **overrides)


@pytest.fixture(scope="module")
def setup():
  rng = np.random.default_rng(0)
  images = rng.standard_normal((2, 64, 64, 1)).astype(np.float32)
  model = _model()
  variables = model.init(jax.random.PRNGKey(0), images)
  return model, variables, images


def test_the_parameters_are_lenets_conv_layers_and_fresh_fc_layers(setup):
  model, variables, _ = setup
  params = variables["params"]
  assert sorted(params["body"]) == ["c1", "c3"]           # nothing past S4 is built
  assert params["fc6"]["kernel"].shape == (50 * 16, 8)     # the 50-bin pyramid of S4
  assert params["cls_score"]["kernel"].shape == (6, 3)


def test_a_window_scores_the_same_whatever_else_is_in_the_batch(setup):
  model, variables, images = setup
  boxes = np.array([[4, 4, 40, 30], [10, 10, 60, 60], [0, 0, 64, 64]], np.float32)
  together = model.apply(variables, {"images": images, "boxes": boxes,
                                     "index": np.array([1, 0, 1], np.int32)})
  alone = model.apply(variables, {"images": images[1:], "boxes": boxes[:1],
                                  "index": np.zeros(1, np.int32)})
  np.testing.assert_allclose(together[0], alone[0], rtol=1e-5, atol=1e-6)
  # Images alone are scored as one whole-image window each.
  whole = model.apply(variables, images)
  np.testing.assert_allclose(whole[1], together[2], rtol=1e-5, atol=1e-6)


def test_only_the_fc_layers_learn_unless_the_conv_layers_are_opened(setup):
  model, variables, images = setup
  windows = {"images": images, "boxes": np.array([[4, 4, 40, 30]], np.float32),
             "index": np.zeros(1, np.int32)}

  def grads(m):
    return jax.grad(lambda p: m.apply({"params": p}, windows).sum())(variables["params"])

  frozen = grads(model)
  assert float(jnp.abs(frozen["body"]["c1"]["kernel"]).sum()) == 0.0
  assert float(jnp.abs(frozen["fc6"]["kernel"]).sum()) > 0.0
  opened = grads(_model(freeze_conv=False))
  assert float(jnp.abs(opened["body"]["c1"]["kernel"]).sum()) > 0.0


def test_multi_scale_pools_each_window_at_the_scale_nearest_the_target(setup):
  _, variables, images = setup
  boxes = np.array([[0, 0, 10, 10], [0, 0, 40, 40]], np.float32)
  windows = {"images": images, "boxes": boxes, "index": np.zeros(2, np.int32)}
  pooled = lambda m: np.asarray(m.apply(variables, windows, method=sppnet.SPPNet.pooled))
  both = pooled(_model(scales=(0.5, 2.0), scale_target=20.0))
  # The 10-px window is 20 px at scale 2, the 40-px one at scale 0.5.
  np.testing.assert_array_equal(both[0], pooled(_model(scales=(2.0,)))[0])
  np.testing.assert_array_equal(both[1], pooled(_model(scales=(0.5,)))[1])
