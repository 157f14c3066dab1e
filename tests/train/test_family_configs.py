"""The model-zoo family configs: each loads, builds its model and trains on real data."""
import importlib
import pathlib

import jax
import jax.numpy as jnp
import pytest

from jcnn import models, tasks, training

CONFIGS = ["lenet5_1998_mnist", "cifar_convnet_cifar10", "alexnet_1tower_cifar10",
           "vgg11_bn_cifar10", "nin_cifar10", "inception_v2_cifar10", "mobilenet_v1_cifar10",
           "resnet18_cifar10"]
# The stored images' (size, channels), before the config's resize and pad.
_SOURCE_SHAPE = {"mnist": (28, 1), "image_folder": (32, 3)}
# Compiling BN-Inception's train and eval steps takes ~40 s on 2 cores, AlexNet's,
# MobileNet's and VGG-11-BN's ~50 s; the fast tests still build them at their configured
# size, test_zoo trains AlexNet, MobileNet and VGG-11, and resnet18_cifar10 runs the
# same CIFAR-10 path as vgg11_bn_cifar10.
_SLOW_RUNS = {"inception_v2_cifar10", "alexnet_1tower_cifar10", "mobilenet_v1_cifar10",
              "vgg11_bn_cifar10"}
_RUN_CASES = [pytest.param(n, marks=pytest.mark.slow) if n in _SLOW_RUNS else n
              for n in CONFIGS]


def _config(name):
  return importlib.import_module(f"train.configs.{name}").get_config()


@pytest.mark.parametrize("name", CONFIGS)
def test_config_builds_its_model_at_the_configured_input_size(name):
  config = _config(name)
  tasks.validate(config)
  size, channels = _SOURCE_SHAPE[config.dataset]
  size = (config.resize or size) + 2 * config.pad
  model = tasks.get(config.task).model(config, {"class_names": list(range(10))})
  x = jax.ShapeDtypeStruct((2, size, size, channels), jnp.float32)
  key = jax.random.PRNGKey(0)
  variables = jax.eval_shape(lambda x: model.init({"params": key, "dropout": key}, x), x)
  logits = jax.eval_shape(lambda v, x: model.apply(v, x), variables, x)
  assert logits.shape == (2, 10)
  smallest = models.info(config.model).min_input_size
  assert smallest is None or size >= smallest


@pytest.mark.parametrize("name", CONFIGS)
def test_docstring_gives_command_data_expectation_and_time(name):
  module = importlib.import_module(f"train.configs.{name}")
  doc = module.__doc__
  assert f"python -m train --config train/configs/{name}.py" in doc
  for word in ("Data:", "Recipe:", "Expected", "2-core CPU"):
    assert word in doc, word
  assert "Measured" in doc or "Estimate" in doc  # says how the numbers were obtained
  assert _config(name).name == name
  assert pathlib.Path(module.__file__).stem == name


@pytest.mark.data
@pytest.mark.parametrize("name", _RUN_CASES)
def test_two_steps_train_and_evaluate_on_the_real_data(name, tmp_path, shared_data,
                                                       monkeypatch):
  monkeypatch.setenv("JCNN_DATA_DIR", str(shared_data))
  config = _config(name)  # data_dir is read from JCNN_DATA_DIR here
  config.update(dict(num_train_steps=2, batch_size=4, eval_batch_size=4, train_examples=8,
                     eval_examples=4, log_every_steps=1))
  results = training.train_and_evaluate(config, str(tmp_path))
  assert results["step"] == 2 and results["num_examples"] == 4
  assert 0 <= results["top1"] <= 1
