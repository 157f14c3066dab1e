"""The model-zoo family configs: each loads, builds its model and trains on real data.
The ImageNet configs, which need ImageNet and a GPU, load and read a folder laid out as
ImageNet is, untrained."""
import importlib
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jcnn import data, models, tasks, training
from jcnn.tasks import classification
from tests.helpers import run_program

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
# name: the epochs at which the learning rate drops, as the docstring gives them.
IMAGENET_CONFIGS = {"resnet50_imagenet": (30, 60), "alexnet_imagenet": (30, 60, 80),
                    "vgg16_imagenet": (25, 50, 65)}
IMAGENET_TRAIN_IMAGES = 1_281_167
_WNIDS = ("n01440764", "n01443537")


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


@pytest.mark.parametrize("name", CONFIGS + list(IMAGENET_CONFIGS))
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


@pytest.fixture(scope="module")
def imagenet_like(tmp_path_factory) -> pathlib.Path:
  """A $JCNN_DATA_DIR holding `imagenet2012/{train,val}/<wnid>/*.JPEG`: two classes of
  two JPEGs of noise a split, of two sizes, both shorter than 256."""
  root = tmp_path_factory.mktemp("data")
  rng = np.random.default_rng(0)
  for split in ("train", "val"):
    for wnid in _WNIDS:
      folder = root / "imagenet2012" / split / wnid
      folder.mkdir(parents=True)
      for i, (width, height) in enumerate(((300, 200), (150, 250))):
        pixels = rng.integers(0, 256, (height, width, 3), np.uint8)
        Image.fromarray(pixels).save(folder / f"{wnid}_{i}.JPEG", quality=90)
  return root


@pytest.mark.parametrize("name", IMAGENET_CONFIGS)
def test_imagenet_config_streams_an_imagenet_folder_into_its_model(name, imagenet_like,
                                                                   monkeypatch):
  monkeypatch.setenv("JCNN_DATA_DIR", str(imagenet_like))
  config = _config(name)
  assert config.data_dir == str(imagenet_like / "imagenet2012")
  tasks.validate(config)
  task = tasks.get(config.task)
  train = task.load_split(config, config.train_split)
  assert list(train.class_names) == list(_WNIDS) and len(train) == 4
  assert tuple(train.image_shape) == models.info(config.model).input_shape
  config.update(dict(batch_size=2, eval_batch_size=2, data_workers=0))
  info = classification.dataset_info(config, train)
  for split, training_batch in ((train, True), (task.load_split(config, "val"), False)):
    batch = next(iter(task.batches(config, info, split, train=training_batch)))
    assert batch["image"].shape == (2, 224, 224, 3) and np.isfinite(batch["image"]).all()
  model = task.model(config, info)
  x = jax.ShapeDtypeStruct((2, *train.image_shape), jnp.float32)
  key = jax.random.PRNGKey(0)
  variables = jax.eval_shape(lambda x: model.init({"params": key, "dropout": key}, x), x)
  assert jax.eval_shape(lambda v, x: model.apply(v, x), variables, x).shape == (2, 2)


@pytest.mark.parametrize("name, drops", IMAGENET_CONFIGS.items())
def test_imagenet_schedule_drops_at_the_epochs_its_docstring_names(name, drops):
  config = _config(name)
  steps = data.steps_per_epoch(IMAGENET_TRAIN_IMAGES, config.batch_size)
  assert tuple(config.boundaries) == tuple(epoch * steps for epoch in drops)
  doc = importlib.import_module(f"train.configs.{name}").__doc__
  assert f"{steps:,} steps an epoch, {config.num_epochs * steps:,} in all" in doc
  assert "epochs " + ", ".join(map(str, drops[:-1])) + f" and {drops[-1]}" in doc
  assert "needs ImageNet prepared in `$JCNN_DATA_DIR/imagenet2012`" in doc
  assert "GPU" in doc


def test_imagenet_config_without_data_is_one_line_naming_data_dir(tmp_path, monkeypatch):
  monkeypatch.delenv("JCNN_DATA_DIR", raising=False)
  proc = run_program("train", "--config", "resnet50_imagenet", cwd=tmp_path)
  assert proc.returncode == 2, proc.stderr[-2000:]
  lines = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
  assert len(lines) == 1 and "config.data_dir=''" in lines[0], proc.stderr[-2000:]
  assert not (tmp_path / "runs").exists()  # refused before a run folder is made
