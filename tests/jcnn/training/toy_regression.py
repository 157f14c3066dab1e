"""A second task for the tests: linear regression, to prove the loop is not classification-shaped.

Inputs x ~ N(0, I) in `num_features` dimensions, targets y = x·w + noise with a fixed w;
the model is one Dense unit; the loss and the evaluator's metric are the mean squared
error. `inf_at_steps` puts an inf into the batches of those (0-based) steps, to test the
non-finite guard.
"""
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jcnn import evaluators, tasks
from jcnn.tasks import base

TRAIN_EXAMPLES, EVAL_EXAMPLES = 512, 128


class Linear(nn.Module):
  @nn.compact
  def __call__(self, x, train: bool = False):
    return nn.Dense(1)(x)[:, 0]


def make_data(num_features: int, noise: float, seed: int = 1234):
  """(x_train, y_train, x_eval, y_eval, true_w), float32."""
  rng = np.random.default_rng(seed)
  w = rng.standard_normal(num_features).astype(np.float32)
  x = rng.standard_normal((TRAIN_EXAMPLES + EVAL_EXAMPLES, num_features)).astype(np.float32)
  y = (x @ w + noise * rng.standard_normal(len(x))).astype(np.float32)
  return x[:TRAIN_EXAMPLES], y[:TRAIN_EXAMPLES], x[TRAIN_EXAMPLES:], y[TRAIN_EXAMPLES:], w


class MeanSquaredError:
  name = "eval"

  def __init__(self, apply_fn, x, y, batch_size, mesh):
    self._batches = lambda: _batches(x, y, batch_size, order=np.arange(len(x)))
    self._mesh = mesh

    def sums(variables, batch):
      error = apply_fn(variables, batch["x"], train=False) - batch["y"]
      return {"se": jnp.sum(error * error * batch["mask"]), "count": jnp.sum(batch["mask"])}

    self._step = evaluators.jit_sums(sums, mesh)

  def run(self, variables):
    totals = evaluators.total(self._step, variables, self._batches(), self._mesh)
    return {"mse": totals["se"] / totals["count"], "num_examples": int(totals["count"])}


def _batches(x, y, batch_size, order, inf_batches=()):
  for b in range(-(-len(order) // batch_size)):
    index = np.arange(b * batch_size, (b + 1) * batch_size)
    mask = (index < len(order)).astype(np.float32)
    take = order[index % len(order)]
    batch_x = x[take].copy()
    if b in inf_batches:
      batch_x[0, 0] = np.inf
    yield {"x": batch_x, "y": y[take], "mask": mask}


class ToyRegression(base.Task):
  name = "regression_toy"
  identity = ("num_features",)

  def fields(self):
    c = ml_collections.ConfigDict()
    c.num_features = 8
    c.noise = 0.1
    c.inf_at_steps = ()
    return c

  def model(self, config, dataset_info):
    return Linear()

  def input_shape(self, dataset_info):
    return (dataset_info["num_features"],)

  def training(self, config, mesh, run=None):
    x, y, x_eval, y_eval, _ = make_data(config.num_features, config.noise)
    info = {"num_features": config.num_features}
    model = self.model(config, info)
    steps_per_epoch = len(x) // config.batch_size

    def batches(epoch, start_batch):
      order = np.random.default_rng([config.seed, epoch]).permutation(len(x))
      order = order[:steps_per_epoch * config.batch_size]  # full batches only
      inf = {s - epoch * steps_per_epoch for s in config.inf_at_steps}
      stream = _batches(x, y, config.batch_size, order, inf)
      for b, batch in enumerate(stream):
        if b >= start_batch:
          yield batch

    def train_step(state, batch):
      def loss_fn(params):
        error = state.apply_fn({"params": params}, batch["x"]) - batch["y"]
        return jnp.mean(error * error)
      loss, grads = jax.value_and_grad(loss_fn)(state.params)
      return state.apply_gradients(grads=grads), {"loss": loss}

    evaluator = MeanSquaredError(tasks.apply_fn(config, model), x_eval, y_eval,
                                 config.eval_batch_size, mesh)
    return base.Training(dataset_info=info, num_examples=len(x), model=model,
                         train_step=train_step, batches=batches, evaluators=(evaluator,))

  def load_split(self, config, split):
    if split != "test":
      raise ValueError(f"the toy regression has a 'test' split only, not {split!r}")
    _, _, x_eval, y_eval, _ = make_data(config.num_features, config.noise)
    return x_eval, y_eval

  def evaluator(self, run, restored, split, name="eval"):
    x, y = split
    return MeanSquaredError(restored.apply, x, y, run.config.eval_batch_size, restored.mesh)


def config(**fields) -> ml_collections.ConfigDict:
  """A toy run: SGD, 16 steps an epoch, 3 epochs, checkpoints every 8 steps."""
  tasks.register(ToyRegression())
  c = tasks.default_config("regression_toy")
  c.update(dict(name="toy", batch_size=32, eval_batch_size=64, num_epochs=3, optimizer="sgd",
                learning_rate=0.1, schedule="constant", best_metric="mse", best_mode="min",
                checkpoint_every_steps=8, log_every_steps=1))
  c.update(fields)
  return c
