"""Mixed precision: bfloat16 compute, float32 parameters, float32 outputs."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jcnn import models, precision
from tests.helpers import tiny_config


def test_bfloat16_apply_matches_float32_and_returns_float32():
  model = models.create("resnet20", num_classes=10)
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 32, 32, 3))
  variables = model.init(jax.random.PRNGKey(1), x, train=False)
  want = model.apply(variables, x, train=False)
  apply = precision.apply_in("bfloat16", model.apply)
  got = apply(variables, x, train=False)
  assert got.dtype == jnp.float32
  # bfloat16 keeps 8 bits of mantissa: logits agree to a few parts in a hundred.
  np.testing.assert_allclose(got, want, atol=0.05 * float(jnp.abs(want).max()))
  logits, updates = apply(variables, x, train=True, mutable=["batch_stats"])
  assert all(a.dtype == jnp.float32 for a in jax.tree.leaves((logits, updates)))


def test_bfloat16_really_computes_in_bfloat16():
  model = models.create("lenet5", num_classes=10)
  x = jnp.zeros((1, 32, 32, 1))
  variables = model.init(jax.random.PRNGKey(0), x, train=False)
  jaxpr = jax.make_jaxpr(lambda v, x: precision.apply_in("bfloat16", model.apply)(
      v, x, train=False))(variables, x)
  # In bfloat16 LeNet-5's convolutions run as matrix products on the CPU (jcnn.kernels).
  products = [line for line in str(jaxpr).splitlines()
              if "conv_general_dilated[" in line or "dot_general[" in line]
  assert len(products) >= 5 and all(":bf16[" in line for line in products), products
  assert precision.apply_in("float32", model.apply) == model.apply


def test_training_in_bfloat16_keeps_float32_parameters_and_learns(tmp_path):
  from eval import score
  from jcnn import runs, tasks, training
  results = training.train_and_evaluate(tiny_config(dtype="bfloat16", num_epochs=2),
                                        str(tmp_path / "bf16"))
  # The same config in float32: bfloat16 (8 significant bits in the products) may cost a
  # little accuracy, not the run.
  float32 = training.train_and_evaluate(tiny_config(num_epochs=2), str(tmp_path / "f32"))
  assert float32["top1"] > 0.8  # chance is 0.1
  assert abs(results["top1"] - float32["top1"]) <= 0.03
  run = runs.Run.open(tmp_path / "bf16")
  restored = tasks.restore(run)
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(restored.variables["params"]))
  assert score.score(run, split="test")["top1"] == pytest.approx(results["top1"])


def test_unknown_dtype_is_refused():
  from jcnn import tasks
  with pytest.raises(ValueError, match="dtype must be one of"):
    tasks.validate(tiny_config(dtype="float8"))
