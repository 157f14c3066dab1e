"""Every Keras map, proven on weights Keras itself draws (random, with random batch-norm
statistics and biases), saved in each of Keras' formats, imported, and run on the same
picture: Keras' logits (its classifier without the softmax) on the input its own
`preprocess_input` makes (BGR and Caffe-normalised, or "tf"'s [-1, 1]) and the port's on
the run's normalisation of it, and one map per stage, equal within 1e-4."""
import numpy as np
import pytest

from jcnn import pretrained
from tests import pretrained_sources

# zoo model: (keras.applications constructor, its module (preprocess_input), input side,
# file name): each of the formats Keras writes at least once. InceptionV3 at a side with
# odd grids (its average pools' borders), MobileNet at one with an odd grid before a
# strided depthwise convolution (its padding); both cost less than their default.
MODELS = {
    "vgg16": ("VGG16", "vgg16", 224, "vgg16.keras"),
    "vgg19": ("VGG19", "vgg19", 224, "vgg19.h5"),
    "resnet50": ("ResNet50", "resnet", 64, "resnet50.keras"),
    "resnet101": ("ResNet101", "resnet", 64, "resnet101.weights.h5"),
    "resnet152": ("ResNet152", "resnet", 64, "resnet152.h5"),
    "inception_v3": ("InceptionV3", "inception_v3", 139, "inception_v3.weights.h5"),
    "mobilenet_v1": ("MobileNet", "mobilenet", 72, "mobilenet.keras"),
}
TOLERANCE = 1e-4


def test_every_keras_map_is_tested():
  assert sorted(MODELS) == sorted(pretrained.SOURCES["keras"])


def stage_layers(model: str, net) -> dict[str, str]:
  """{zoo feature: Keras layer} of one map per stage."""
  import keras
  if model.startswith("vgg"):
    return {f"pool{i}": f"block{i}_pool" for i in range(1, 6)}
  if model == "inception_v3":  # the stem's activations are unnamed: the 3rd and 5th
    stem = [layer.name for layer in net.layers if isinstance(layer, keras.layers.Activation)]
    return {"stage1": stem[2], "stage2": stem[4], "stage3": "mixed2", "stage4": "mixed7",
            "stage5": "mixed10"}
  if model == "mobilenet_v1":
    return {f"stage{i}": f"conv_pw_{block}_relu"
            for i, block in enumerate((1, 3, 5, 11, 13), start=1)}
  last = {}
  for layer in net.layers:  # conv<stage>_block<n>_out: the last n of each stage
    if layer.name.endswith("_out"):
      stage = int(layer.name[4]) - 1
      last[f"stage{stage}"] = layer.name
  return {"stem": "conv1_relu", **last}


@pytest.mark.parametrize("model", sorted(MODELS))
def test_a_keras_network_ports_with_its_logits_and_stage_maps(model, tmp_path):
  import keras
  constructor, module, side, name = MODELS[model]
  keras.utils.set_random_seed(0)
  net = getattr(keras.applications, constructor)(weights=None, input_shape=(side, side, 3),
                                                 classifier_activation=None)
  net = pretrained_sources.randomize_keras(net, seed=1)
  path = tmp_path / name
  net.save_weights(path) if name.endswith(".weights.h5") else net.save(path)
  imported = pretrained.load("keras", path, model)
  path.unlink()
  pixels = np.random.default_rng(2).uniform(size=(1, side, side, 3)).astype(np.float32)
  preprocess = getattr(keras.applications, module).preprocess_input
  expected, maps = pretrained_sources.keras_outputs(net, preprocess(pixels * 255),
                                                    stage_layers(model, net))
  logits, features = pretrained_sources.jcnn_outputs(
      imported, pretrained_sources.normalise(pixels, imported.map.mean, imported.map.std))
  errors = {"logits": pretrained_sources.max_relative_error(logits, expected)}
  errors.update({name: pretrained_sources.max_relative_error(features[name], value)
                 for name, value in maps.items()})
  print(f"{model} ({name}): max relative logit error {errors['logits']:.2e}")
  assert len(maps) == 5 and max(errors.values()) < TOLERANCE, errors


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
