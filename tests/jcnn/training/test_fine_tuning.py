"""Fine-tuning through the shared loop: a 1,000-class run started into a digits classifier
with its head fresh, its first layers frozen, a lower rate on the next, AdamW and a
warm-up; frozen batch norms; and a resumed run equal to an uninterrupted one, bitwise."""
import numpy as np
import pytest

from jcnn import runs, tasks, training
from tests.helpers import flat_leaves, fresh_params, tiny_config, write_imported_run

# 256 digits / batch 32 = 8 steps an epoch; warm-up 4 steps, the rate ÷10 at step 6.
FINE_TUNING = dict(init_exclude="^output/", freeze="^c1/|^c3/", lr_multipliers=("^c5/=0.1",),
                   optimizer="adamw", adamw_weight_decay=0.01, learning_rate=1e-3,
                   schedule="step", boundaries=(6,), warmup_epochs=0.5, ema_decay=0.9,
                   train_examples=256, eval_examples=50, batch_size=32, eval_batch_size=50,
                   checkpoint_every_steps=4, keep_checkpoints=5, best_metric="")


def _config(source, **fields):
  return tiny_config(init_from=str(source), **{**FINE_TUNING, **fields})


def _final(workdir):
  restored = tasks.restore(runs.Run.open(workdir), use_ema=False)
  ema = tasks.restore(runs.Run.open(workdir), use_ema=True)
  return restored.step, flat_leaves(restored.variables), flat_leaves(ema.variables)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
  return write_imported_run(tmp_path_factory.mktemp("imported") / "run")


@pytest.fixture(scope="module")
def straight(source, tmp_path_factory):
  workdir = tmp_path_factory.mktemp("straight")
  training.train_and_evaluate(_config(source, num_train_steps=8), str(workdir))
  return _final(workdir)


def test_frozen_parameters_stay_bitwise_while_the_others_train(source, straight):
  step, final, _ = straight
  start = flat_leaves(tasks.restore(runs.Run.open(source)).variables)
  assert step == 8
  for path, value in final.items():
    if path.startswith(("params/c1/", "params/c3/")):
      np.testing.assert_array_equal(value, start[path], err_msg=path)
    elif path.startswith("params/output/"):
      assert value.shape != start[path].shape  # the fresh 10-class head
    else:
      assert not np.array_equal(value, start[path]), path


def test_a_resumed_fine_tuning_run_ends_bitwise_where_an_uninterrupted_one_does(
    source, straight, tmp_path):
  training.train_and_evaluate(_config(source, num_train_steps=4), str(tmp_path))
  assert runs.Run.open(tmp_path).steps() == [4]
  training.train_and_evaluate(_config(source, num_train_steps=8), str(tmp_path))
  step, params, ema = _final(tmp_path)
  assert step == straight[0] == 8
  for path in straight[1]:
    np.testing.assert_array_equal(params[path], straight[1][path], err_msg=path)
    np.testing.assert_array_equal(ema[path], straight[2][path], err_msg=path)


@pytest.mark.parametrize("freeze_batch_stats", [True, False])
def test_frozen_batch_norms_keep_their_statistics_unless_told(tmp_path, freeze_batch_stats):
  kwargs = dict(batch_norm=True, lrn=False)
  config = tiny_config(model="cifar_convnet", model_kwargs=kwargs, freeze="^(conv|bn)1/",
                       freeze_batch_stats=freeze_batch_stats, num_train_steps=3,
                       train_examples=96, eval_examples=50, batch_size=32,
                       eval_batch_size=50, best_metric="")
  training.train_and_evaluate(config, str(tmp_path))
  final = flat_leaves(tasks.restore(runs.Run.open(tmp_path)).variables)
  fresh = fresh_params("cifar_convnet", **kwargs)
  np.testing.assert_array_equal(final["params/conv1/kernel"], fresh["conv1"]["kernel"])
  np.testing.assert_array_equal(final["params/bn1/scale"], fresh["bn1"]["scale"])
  assert not np.array_equal(final["params/conv2/kernel"], fresh["conv2"]["kernel"])
  # A fresh batch norm's statistics are mean 0, variance 1.
  kept = (np.array_equal(final["batch_stats/bn1/mean"], np.zeros(32))
          and np.array_equal(final["batch_stats/bn1/var"], np.ones(32)))
  assert kept == freeze_batch_stats
  assert not np.array_equal(final["batch_stats/bn2/mean"], np.zeros(32))
