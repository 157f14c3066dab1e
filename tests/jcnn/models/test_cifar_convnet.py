"""cifar_convnet: Caffe's cifar10_full layer by layer, and each study switch against its paper."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import models
from jcnn.models import alexnet


def _params(**fields) -> dict[str, int]:
  model = models.create("cifar_convnet", **fields)
  params = models.abstract_variables(model, (32, 32, 3))["params"]
  return {name: models.num_params(p) for name, p in params.items()}


def _features(**fields) -> dict[str, tuple]:
  model = models.create("cifar_convnet", **fields)
  return {f["name"]: f["shape"] for f in models.feature_info(model, (32, 32, 3))}


def test_layers_are_caffes_cifar10_full():
  # cifar10_full.prototxt: 5×5 convolutions of 32, 32, 64 (pad 2), 3×3/2 pools in
  # Caffe's ceil mode (32 -> 16 -> 8 -> 4), ip1 on the 4×4×64 map.
  assert _params() == {"conv1": 5 * 5 * 3 * 32 + 32, "conv2": 5 * 5 * 32 * 32 + 32,
                       "conv3": 5 * 5 * 32 * 64 + 64, "fc": 4 * 4 * 64 * 10 + 10}
  assert _features() == {"layer1": (16, 16, 32), "layer2": (8, 8, 32), "layer3": (4, 4, 64)}


def test_adjacent_pooling_gives_the_overlapping_schemes_output_size():
  # AlexNet §3.4: z = 2, s = 2 "produces output of equivalent dimensions" to z = 3, s = 2.
  assert _features(pool_window=2) == _features(pool_window=3)


def test_three_3x3_convolutions_replace_each_7x7_with_fewer_weights():
  # VGG §2.3: 3 (3²C²) = 27C² weights against 7²C² = 49C² for the same 7×7 field.
  stacked, single = _params(kernel=3, stack=3), _params(kernel=7)
  assert stacked["conv2_1"] + stacked["conv2_2"] + stacked["conv2_3"] == 3 * (9 * 32 * 32 + 32)
  assert single["conv2"] == 49 * 32 * 32 + 32
  assert sum(stacked.values()) == 149_738 and sum(single.values()) == 165_610
  assert _features(kernel=3, stack=3) == _features(kernel=7) == _features()


def test_gap_head_averages_nins_class_maps():
  model = models.create("cifar_convnet", head="gap")
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 32, 32, 3))
  variables = model.init(jax.random.PRNGKey(1), x)
  assert variables["params"]["fc"]["kernel"].shape == (64, 10)
  fc = variables["params"]["fc"]
  # NiN: a 1×1 convolution to one map per class, then each map's average.
  class_maps = models.extract_features(model, variables, x)["layer3"] @ fc["kernel"] + fc["bias"]
  np.testing.assert_allclose(model.apply(variables, x), class_maps.mean(axis=(1, 2)),
                             rtol=1e-5, atol=1e-5)


def test_lrn_is_alexnets_and_only_after_the_first_two_layers():
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 32, 32, 3))
  plain = models.create("cifar_convnet", lrn=False)
  variables = plain.init(jax.random.PRNGKey(1), x)
  with_lrn = models.extract_features(models.create("cifar_convnet"), variables, x)
  without = models.extract_features(plain, variables, x)
  np.testing.assert_allclose(with_lrn["layer1"], alexnet.lrn(without["layer1"]), rtol=1e-5)
  assert not np.allclose(with_lrn["layer3"], without["layer3"])


def test_batch_norm_variant_normalises_every_convolution_and_drops_their_biases():
  model = models.create("cifar_convnet", batch_norm=True, lrn=False)
  variables = models.abstract_variables(model, (32, 32, 3))
  assert sorted(variables["batch_stats"]) == ["bn1", "bn2", "bn3"]
  assert "bias" not in variables["params"]["conv1"]
  x = jax.random.normal(jax.random.PRNGKey(0), (8, 32, 32, 3)) * 5 + 3
  real = model.init(jax.random.PRNGKey(1), x)
  _, state = model.apply(real, x, train=True, mutable=["batch_stats"])
  # Running mean after one step with momentum 0.9: 0.1 × the batch's mean.
  conv1 = jax.lax.conv_general_dilated(x, real["params"]["conv1"]["kernel"], (1, 1),
                                       ((2, 2), (2, 2)),
                                       dimension_numbers=("NHWC", "HWIO", "NHWC"))
  np.testing.assert_allclose(state["batch_stats"]["bn1"]["mean"],
                             0.1 * conv1.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("fields, message", [
    (dict(pool_window=4), "pool_window must be 2 or 3"),
    (dict(head="fc"), "head must be one of"),
    (dict(kernel=4), "kernel must be odd"),
    (dict(activation="gelu"), "unknown activation 'gelu'"),
])
def test_bad_fields_are_named(fields, message):
  model = models.create("cifar_convnet", **fields)
  with pytest.raises(ValueError, match=message):
    models.abstract_variables(model, (32, 32, 3))


def test_input_of_the_wrong_size_is_refused():
  with pytest.raises(ValueError, match="cifar_convnet"):
    models.abstract_variables(models.create("cifar_convnet"), (28, 28, 1))
