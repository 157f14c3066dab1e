"""The registry and the LeNet family: names, parameter counts, shapes, errors."""
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import models


@pytest.mark.parametrize("name, expected", [
    # LeCun et al. 1998 layer counts: C1 156 + C3 2,416 (fully connected) + C5 48,120
    # + F6 10,164 + dense output 850 (d2l.ai's LeNet-5 and torchvision-style LeNets agree).
    ("lenet5", 61_706),
    # tensorflow/models image/mnist/convolutional.py: conv1 5x5x1x32, conv2 5x5x32x64,
    # fc1 (7*7*64)x512, fc2 512x10, all with biases.
    ("lenet_tf", 1_663_370),
])
def test_parameter_counts_match_references(name, expected):
  variables = models.abstract_variables(models.create(name), models.info(name).input_shape)
  assert models.num_params(variables["params"]) == expected
  assert models.info(name).num_params == expected


def test_abstract_variables_have_the_shapes_of_a_real_init():
  model = models.create("lenet5")
  abstract = models.abstract_variables(model, (32, 32, 1))
  real = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 1)), train=False)
  assert all(isinstance(leaf, jax.ShapeDtypeStruct) for leaf in jax.tree.leaves(abstract))
  as_spec = lambda tree: jax.tree.map(lambda a: (a.shape, a.dtype), tree)
  assert as_spec(abstract) == as_spec(real)


def test_importing_the_package_imports_every_family_module():
  # A family module registers its models only once jcnn/models/__init__.py imports it.
  # (The detectors' networks, faster_rcnn and sppnet, register nothing: they are
  # imported where used, so `import jcnn.models` does not load jcnn.detection.)
  code = ("import pathlib, pkgutil, sys; from jcnn import models; "
          "print(sorted(m.name for m in pkgutil.iter_modules(models.__path__) "
          "if 'register(' in (pathlib.Path(models.__path__[0]) / f'{m.name}.py').read_text() "
          "and m.name != 'registry' and f'jcnn.models.{m.name}' not in sys.modules))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
  assert out.stdout.strip() == "[]"
  families = [p.stem for p in pathlib.Path(models.__path__[0]).glob("*.py")
              if "register(" in p.read_text() and p.stem != "registry"]
  assert len(families) == 14  # alexnet ... vgg: every file that registers models


def test_list_models_filters_by_pattern():
  assert models.list_models("lenet*") == ["lenet5", "lenet5_1998", "lenet_tf"]
  assert models.list_models("nothing*") == []


def test_unknown_model_names_close_matches():
  with pytest.raises(ValueError, match=r"unknown model 'lenet6'.*lenet5"):
    models.create("lenet6")


def test_bad_override_is_a_clear_error():
  with pytest.raises(ValueError, match="bad overrides for model 'lenet5'"):
    models.create("lenet5", widht=3)


@pytest.mark.parametrize("name", ["lenet5", "lenet_tf"])
def test_forward_shapes_and_dropout(name):
  model = models.create(name, num_classes=7)
  shape = models.info(name).input_shape
  x = jax.random.normal(jax.random.PRNGKey(1), (3, *shape))
  variables = model.init(jax.random.PRNGKey(0), x, train=False)
  logits = model.apply(variables, x, train=False)
  assert logits.shape == (3, 7)
  train_a = model.apply(variables, x, train=True, rngs={"dropout": jax.random.PRNGKey(2)})
  train_b = model.apply(variables, x, train=True, rngs={"dropout": jax.random.PRNGKey(3)})
  assert train_a.shape == (3, 7)
  if name == "lenet_tf":  # dropout 0.5 before the last layer: keys matter in training
    assert not np.allclose(train_a, train_b)
  else:
    np.testing.assert_allclose(train_a, logits, rtol=1e-6)


def test_wrong_input_shape_names_the_expected_shape():
  model = models.create("lenet5")
  with pytest.raises(ValueError, match=r"lenet5 expects inputs \[batch, 32, 32, 1\], got \(2, 28, 28, 1\)"):
    model.init(jax.random.PRNGKey(0), jnp.zeros((2, 28, 28, 1)))


def test_unknown_activation_is_rejected():
  model = models.create("lenet5", activation="swishy")
  with pytest.raises(ValueError, match="unknown activation 'swishy'"):
    model.init(jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 1)))


def test_features_by_name_and_their_info():
  model = models.create("lenet5")
  x = jnp.ones((2, 32, 32, 1))
  variables = model.init(jax.random.PRNGKey(0), x)
  feats = models.extract_features(model, variables, x)
  assert [(k, v.shape) for k, v in feats.items()] == [
      ("s2", (2, 14, 14, 6)), ("s4", (2, 5, 5, 16)), ("c5_out", (2, 1, 1, 120)),
      ("f6_out", (2, 1, 1, 84))]
  info = models.feature_info(model, (32, 32, 1))
  assert [(i["name"], i["channels"], i["stride"]) for i in info] == [
      ("s2", 6, 2), ("s4", 16, 6), ("c5_out", 120, 32), ("f6_out", 84, 32)]
  # Recording features changes nothing in the ordinary call.
  assert "features" not in variables


def test_unpack_outputs():
  logits = jnp.zeros((2, 3))
  assert models.unpack_outputs(logits)[1] == ()
  main, aux = models.unpack_outputs((logits, [logits + 1, logits + 2]))
  assert main is logits and len(aux) == 2


def test_lenet5_runs_larger_images_up_to_c5_only():
  # SPP-net reads S4 of a whole canvas; the dense F6 still needs C5's 1×1 map.
  from jcnn.models.features import run_to_feature
  model = models.create("lenet5")
  variables = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 1)))
  s4 = run_to_feature(model.bind(variables), "s4", jnp.zeros((1, 128, 96, 1)))
  assert s4.shape == (1, 29, 21, 16)
  with pytest.raises(ValueError, match=r"expects inputs \[batch, 32, 32, 1\], got \(1, 128, 96, 1\)"):
    model.apply(variables, jnp.zeros((1, 128, 96, 1)))


def test_the_counts_computed_here_are_the_ones_the_zoo_page_names():
  # docs/analysis.md, "The model zoo": most counts are an outside reference's; these ten
  # are sums computed here from the paper's layers, and their params_source says so.
  computed = {name for name in models.list_models()
              if "computed" in models.info(name).params_source
              or models.info(name).params_source.startswith("no published")}
  assert computed == {"zfnet", "nin", "nin_cifar", "inception_v2", "inception_resnet_v1",
                      "plain18", "plain34", "vgg16_c", "vgg16_c_bn", "small_vgg"}
  page = " ".join((pathlib.Path(__file__).parents[3] / "docs" / "analysis.md").read_text()
                  .split())
  assert ("(ZFNet, NIN, Inception-v2, Inception-ResNet-v1, the plain nets, VGG's C variants, "
          "small_vgg)") in page
  assert all(models.info(name).params_source for name in models.list_models())
