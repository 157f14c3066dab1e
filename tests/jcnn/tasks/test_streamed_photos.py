"""A classifier trained on streamed photos of any size (`--config.dataset=image_folder
--config.image_size=S`): it trains and evaluates, a run resumed mid-epoch ends bitwise
where an uninterrupted one does, and `eval` reads it (evaluate, predict, viz)."""
import json

import numpy as np
import pytest

from eval import __main__ as eval_main
from jcnn import runs, tasks, training
from tests import photo_set
from tests.helpers import flat_leaves, tiny_config

# 16 photos a batch; the set's 88 training photos (24 of a class at most, a fifth of them to
# test: 17) give 5 steps an epoch, so a run stopped at step 3 stops mid-epoch.
FIELDS = dict(dataset="image_folder", image_size=32, flip=True, lighting=0.1,
              model="cifar_convnet", model_kwargs=dict(batch_norm=True, lrn=False),
              train_split="train", eval_split="test", batch_size=16, eval_batch_size=16,
              learning_rate=0.01, optimizer="momentum", checkpoint_every_steps=3,
              keep_checkpoints=5, best_metric="", data_workers=0)


@pytest.fixture(scope="module")
def folder(shared_data, tmp_path_factory):
  return photo_set.build_photo_set(tmp_path_factory.mktemp("photos") / "set", shared_data,
                                   per_class_limit=24)


def _config(folder, **fields):
  return tiny_config(data_dir=str(folder), **{**FIELDS, **fields})


@pytest.fixture(scope="module")
def straight(folder, tmp_path_factory):
  workdir = tmp_path_factory.mktemp("straight")
  results = training.train_and_evaluate(_config(folder, num_train_steps=6), str(workdir))
  return workdir, results


def test_it_trains_and_evaluates_on_photos_of_many_sizes(straight):
  workdir, results = straight
  run = runs.Run.open(workdir)
  assert run.dataset_info["image_shape"] == [32, 32, 3]
  assert run.dataset_info["class_names"] == ["bowl", "chair", "person", "raccoon",
                                             "teddy_bear"]
  assert results["step"] == 6 and results["num_examples"] == 17
  assert 0 <= results["top1"] <= 1 and np.isfinite(results["loss"])


def test_a_run_resumed_mid_epoch_ends_bitwise_where_an_uninterrupted_one_does(
    folder, straight, tmp_path):
  training.train_and_evaluate(_config(folder, num_train_steps=3), str(tmp_path))
  training.train_and_evaluate(_config(folder, num_train_steps=6, data_workers=2),
                              str(tmp_path))
  resumed = flat_leaves(tasks.restore(runs.Run.open(tmp_path), use_ema=False).variables)
  uninterrupted = flat_leaves(tasks.restore(runs.Run.open(straight[0]),
                                            use_ema=False).variables)
  for path, value in uninterrupted.items():
    np.testing.assert_array_equal(resumed[path], value, err_msg=path)


def test_eval_reads_the_run(straight, folder, tmp_path, capsys):
  workdir, results = straight
  assert eval_main.main(["--workdir", str(workdir), "--json"]) == 0
  assert json.loads(capsys.readouterr().out)["top1"] == pytest.approx(results["top1"])
  photo = next((folder / "test" / "raccoon").iterdir())
  assert eval_main.main(["predict", "--workdir", str(workdir), str(photo), "--top_k", "2",
                         "--output", str(tmp_path / "p.json")]) == 0
  (row,) = json.loads((tmp_path / "p.json").read_text())
  assert len(row["top"]) == 2 and row["file"] == str(photo)
  assert eval_main.main(["viz", "--workdir", str(workdir), "deconv", "--num_images", "2",
                         "--output", str(tmp_path / "viz")]) == 0
  assert list((tmp_path / "viz").glob("*.png"))
