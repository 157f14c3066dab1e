"""Every Keras map, proven on weights Keras itself draws (random, with random batch-norm
statistics and biases), saved in each of Keras' formats, imported, and run on the same
picture: Keras' logits (its classifier without the softmax) on the input its own
`preprocess_input` makes (BGR and Caffe-normalised, or "tf"'s [-1, 1]) and the port's on
the run's normalisation of it, and one map per stage, equal within 1e-4. The comparison
is `tests.pretrained_sources.parity` (with the format each network is saved in), which
benchmarks/pretrained_parity.py stores for docs/pretrained.md."""
import numpy as np
import pytest

from jcnn import pretrained
from tests import pretrained_sources

MODELS = sorted(pretrained.SOURCES["keras"])
TOLERANCE = 1e-4


def test_every_keras_map_is_tested():
  assert sorted(pretrained_sources.KERAS_MODELS) == MODELS


@pytest.mark.parametrize("model", MODELS)
def test_a_keras_network_ports_with_its_logits_and_stage_maps(model, tmp_path):
  result = pretrained_sources.parity("keras", model, tmp_path)
  errors = pretrained_sources.errors(result)
  print(f"{model} ({result['file']}): max relative logit error {errors['logits']:.2e}")
  assert len(result["stages"]) == 5 and max(errors.values()) < TOLERANCE, errors


def _resnet50_with_epsilon(epsilon: float, tmp_path):
  import keras
  keras.utils.set_random_seed(0)
  net = keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3),
                                    classifier_activation=None)
  net = pretrained_sources.randomize_keras(net, seed=1)
  for layer in net.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
      layer.epsilon = epsilon
  return net, tmp_path / "resnet50.keras"


def test_a_batch_norm_epsilon_of_another_size_is_folded_into_the_variance(tmp_path):
  # Keras' default 1e-3, read from the file's config: 100 times the zoo's 1e-5.
  net, path = _resnet50_with_epsilon(1e-3, tmp_path)
  net.save(path)
  imported = pretrained.load("keras", path, "resnet50")
  x = np.random.default_rng(2).standard_normal((1, 32, 32, 3)).astype(np.float32) * 60
  expected, _ = pretrained_sources.keras_outputs(net, x[..., ::-1], {})
  logits, _ = pretrained_sources.jcnn_outputs(imported, x)
  assert pretrained_sources.max_relative_error(logits, expected) < TOLERANCE


def test_an_epsilon_the_zoo_cannot_reproduce_is_refused_naming_the_norm(tmp_path):
  net, path = _resnet50_with_epsilon(1e-6, tmp_path)  # a variance below 9e-6 cannot be
  gamma, beta, mean, var = net.get_layer("conv1_bn").get_weights()
  net.get_layer("conv1_bn").set_weights([gamma, beta, mean, np.zeros_like(var)])
  net.save(path)
  with pytest.raises(ValueError, match=r"batch norm 'conv1_bn' divides by sqrt\(var \+ 1e-06\)"):
    pretrained.load("keras", path, "resnet50")
