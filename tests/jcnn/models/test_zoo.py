"""Every registered model: parameter count, forward pass and a real train step.

One parametrised test per property over the whole registry (timm's habit), so a model
added to the zoo is checked without writing a test for it.
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jcnn import losses, models, tasks
from jcnn import state as state_lib
from jcnn.tasks import classification

# The largest members of families whose code path a smaller sibling already runs in
# the default suite (same blocks, more of them): run with `-m slow`.
SLOW = {"resnet110", "plain110", "resnet152", "resnet101", "resnet50", "resnet34", "plain34",
        "resnet44", "resnet56", "plain44", "plain56", "inception_v4", "inception_resnet_v2",
        "inception_v3",  # test_inception checks its towers and aux head; googlenet trains aux
        "inception_v2",  # test_inception checks its modules; googlenet trains the same blocks
        "vgg19", "vgg19_bn", "vgg16_bn", "vgg13_bn", "vgg13", "vgg16", "vgg16_c", "vgg16_c_bn",
        "vgg11_bn", "vgg11_lrn", "vgg11_lrn_bn",  # test_classic_models covers their layers
        "resnet32", "plain32",  # resnet20 and plain20: the same stages, fewer blocks
        "plain18",  # resnet18 trains its stem and stages, plain20 the shortcut-free blocks
        "nin"}  # nin_cifar trains the same NIN class at 32x32
# Not run at all: 600 blocks of untrained BatchNorm overflow float32 in eval mode (as in
# PyTorch) and its train step takes over 10 minutes to compile on a CPU; resnet110 runs
# the same code, and test_parameter_count_matches_reference still checks it.
NOT_RUN = {"resnet1202"}
# Deep plain nets do not fit a fixed batch in a few steps: the degradation problem the
# ResNet paper shows (Fig. 6); tests/jcnn/models/test_resnet.py asserts that contrast.
DEGRADES = {"plain56", "plain110"}


def _params(name):
  return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
          for n in models.list_models(name) if n not in NOT_RUN]


def _input_shape(info):
  h, w, c = info.input_shape
  size = info.min_input_size or h
  return (size, size, c)


@pytest.mark.parametrize("name", [n for n in models.list_models() if models.info(n).num_params])
def test_parameter_count_matches_reference(name):
  info = models.info(name)
  variables = models.abstract_variables(models.create(name), info.input_shape)
  count = models.num_params(variables["params"])
  assert count == info.num_params, f"{name}: {count:,} != {info.num_params:,} ({info.params_source})"
  assert info.params_source, f"{name}: say where the reference count comes from"


@pytest.mark.parametrize("name", _params("*"))
def test_forward_and_train_step(name):
  info = models.info(name)
  shape = _input_shape(info)
  num_classes = 5
  model = models.create(name, num_classes=num_classes)
  x = jax.random.normal(jax.random.PRNGKey(0), (4, *shape))
  labels = jnp.arange(4) % num_classes

  # Three programs per model (init, eval forward, train step): compiling them is most of
  # this test's time, so the eval forward serves the logits check and both losses.
  config = tasks.default_config("classification")
  config.update(dict(model=name, weight_decay=1e-4, weight_decay_subset="kernels"))
  # Adam at 1e-3 blows up the 4096-wide dense heads of AlexNet/VGG in a few steps.
  state = state_lib.create(model, optax.adam(1e-4), rng=jax.random.PRNGKey(2),
                           input_shape=shape)
  forward = jax.jit(lambda v: model.apply(v, x, train=False))
  logits = forward(state.eval_variables())
  assert logits.shape == (4, num_classes)
  assert np.all(np.isfinite(logits))

  def eval_loss(logits):
    return float(losses.softmax_cross_entropy(logits, labels))

  step = jax.jit(classification.train_step(config))
  batch = {"image": x, "label": labels}
  before = eval_loss(logits)
  train_losses = []
  for _ in range(6):
    state, metrics = step(state, batch)
    train_losses.append(float(metrics["loss"]))
  after = eval_loss(forward(state.eval_variables()))
  assert np.all(np.isfinite(train_losses + [before, after])), (train_losses, before, after)
  if name not in DEGRADES:
    # Eval mode is free of dropout noise but uses BatchNorm running statistics, which
    # lag the weights after 6 steps; train mode is the reverse. Learning shows in one.
    assert after < before or train_losses[-1] < train_losses[0], (
        f"{name}: loss did not drop on a fixed batch: eval {before} -> {after}, "
        f"train {train_losses}")


@pytest.mark.parametrize("name", models.list_models())
def test_metadata_is_complete(name):
  info = models.info(name)
  assert info.paper and info.num_classes > 0 and len(info.input_shape) == 3
  assert info.top1 is None or (0 < info.top1 < 1 and info.top1_source)
