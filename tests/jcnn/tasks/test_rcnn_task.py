"""R-CNN and SPP-net as staged runs (jcnn.tasks.rcnn) on canvases of
scikit-learn's digits: every stage's output lands in the run folder, a rerun skips them,
`eval detect` scores the run as the trainer did, and bad input is refused with one line."""
import json

import numpy as np
import pytest

from eval.commands import detect
from jcnn import runs, tasks, training
from jcnn.tasks import init_from, rcnn


def _config(task="rcnn", **overrides):
  c = tasks.default_config(task)
  c.dataset = "digits_detection"
  c.canvas.update(size=64, max_digits=4, min_digit_size=12, max_digit_size=28,
                  num_train=1000, num_test=200)
  c.train_examples, c.eval_examples = 24, 12
  c.max_proposals = 100
  c.num_train_steps, c.checkpoint_every_steps, c.log_every_steps = 6, 3, 3
  c.eval_batches = 2
  c.update(overrides)
  return c


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("rcnn")
  return workdir, training.train_and_evaluate(_config(), str(workdir))


def test_every_stage_keeps_its_output_in_the_run(trained):
  workdir, result = trained
  assert {"map50", "map50_11pt", "coco_ap", "top1", "step"} <= set(result)
  assert result["step"] == 6 and 0.0 <= result["map50"] <= 1.0
  for name in ("proposals/train.npz", "proposals/test.npz", "proposals/recall.json",
               "detector.npz"):
    assert (workdir / name).exists(), name
  recall = json.loads((workdir / "proposals/recall.json").read_text())
  assert 0.5 < recall["train"]["recall_iou50"] <= 1.0
  records = runs.Run.open(workdir).records("detect")
  assert records[-1]["step"] == 6 and records[-1]["map50"] == pytest.approx(result["map50"])


def test_eval_detect_scores_the_run_as_training_did(trained):
  workdir, result = trained
  report = detect.evaluate(str(workdir))
  assert report["map50"] == pytest.approx(result["map50"], abs=1e-6)
  assert report["num_images"] == 12 and report["step"] == 6


def test_a_run_killed_before_its_svms_fits_them_and_nothing_else(trained, tmp_path):
  workdir, result = trained
  import shutil
  copy = tmp_path / "copy"
  shutil.copytree(workdir, copy)
  (copy / "train.lock").unlink(missing_ok=True)
  (copy / runs.DETECTOR_FILE).unlink()
  train_records = len(runs.Run.open(copy).records("train"))
  again = training.train_and_evaluate(_config(), str(copy))
  assert again["map50"] == pytest.approx(result["map50"], abs=1e-6)
  assert len(runs.Run.open(copy).records("train")) == train_records  # no step retrained
  assert (copy / runs.DETECTOR_FILE).exists()


def test_init_from_a_run_of_another_input_size_is_refused(tmp_path):
  from train.configs import default
  source = default.get_config()                       # LeNet-5 on 32×32 digits
  source.num_train_steps, source.checkpoint_every_steps = 2, 2
  training.train_and_evaluate(source, str(tmp_path / "classifier"))
  with pytest.raises(ValueError, match="trained on 32×32 images; this run warps windows "
                     "to config.warp_size=28"):
    training.train_and_evaluate(_config(init_from=str(tmp_path / "classifier"), warp_size=28,
                                       model="lenet5"), str(tmp_path / "run"))


def test_init_from_copies_every_layer_but_the_classifier(tmp_path):
  import jax
  from jcnn.models import registry
  model = registry.create("lenet5", num_classes=11)
  params = model.init(jax.random.PRNGKey(0), np.zeros((1, 32, 32, 1)))["params"]
  source = registry.create("lenet5", num_classes=10).init(
      jax.random.PRNGKey(1), np.zeros((1, 32, 32, 1)))["params"]
  out = init_from.all_but_last_layer(params, {"params": source}, _config())
  np.testing.assert_array_equal(out["c1"]["kernel"], source["c1"]["kernel"])
  np.testing.assert_array_equal(out["output"]["kernel"], params["output"]["kernel"])


def test_a_changed_search_setting_is_refused_in_the_same_run(trained):
  workdir, _ = trained
  config = _config()
  config.search.min_box_size = 4
  with pytest.raises(ValueError, match="search"):
    training.train_and_evaluate(config, str(workdir))


def test_eval_scores_an_rcnn_run_as_the_detector_it_is(trained):
  workdir, result = trained
  from eval import score
  # The task's one evaluator: `eval` (not only `eval detect`) gives the detector's AP.
  scored = score.score(runs.Run.open(workdir))
  assert scored["map50"] == pytest.approx(result["map50"], abs=1e-6)
  assert scored["num_images"] == 12 and scored["step"] == 6


@pytest.fixture(scope="module")
def spp_trained(trained, tmp_path_factory):
  workdir = tmp_path_factory.mktemp("sppnet")
  config = _config("sppnet", proposals_from=str(trained[0]))
  return workdir, training.train_and_evaluate(config, str(workdir))


def test_sppnet_reuses_rcnns_proposals_and_is_scored_the_same_way(trained, spp_trained):
  workdir, result = spp_trained
  assert result["step"] == 6 and 0.0 <= result["map50"] <= 1.0
  for split in ("train", "test"):
    assert ((workdir / "proposals" / f"{split}.npz").read_bytes()
            == (trained[0] / "proposals" / f"{split}.npz").read_bytes())
  assert (workdir / runs.DETECTOR_FILE).exists()
  info = runs.Run.open(workdir).dataset_info
  assert info["image_shape"] == [64, 64, 1]              # whole canvases, not windows
  report = detect.evaluate(str(workdir))
  assert report["map50"] == pytest.approx(result["map50"], abs=1e-6)


def test_proposals_from_a_run_of_other_settings_are_refused_and_not_kept(trained, tmp_path):
  config = _config("sppnet", proposals_from=str(trained[0]), max_proposals=50)
  with pytest.raises(ValueError, match="config.proposals_from=.*not from"):
    training.train_and_evaluate(config, str(tmp_path / "run"))
  assert not (tmp_path / "run" / "proposals" / "train.npz").exists()


def test_a_detector_run_asked_for_before_its_svms_are_fitted_says_so(trained, tmp_path):
  import shutil
  workdir, _ = trained
  copy = tmp_path / "copy"
  shutil.copytree(workdir, copy)
  (copy / runs.DETECTOR_FILE).unlink()
  with pytest.raises(ValueError, match="no SVMs for step 6 .*run the same train command"):
    detect.evaluate(str(copy))


def test_the_paper_configs_build_the_paper_s_networks():
  import jax
  from jcnn import models
  from jcnn.tasks.rcnn import sppnet
  from train.configs import rcnn_alexnet_voc07, sppnet_zf_voc07
  info = {"class_names": [str(c) for c in range(20)], "image_shape": [500, 500, 3]}
  # R-CNN: AlexNet on 227 × 227 warps, 21 outputs, SVMs on fc7 and regression on pool5.
  config = rcnn_alexnet_voc07.get_config()
  tasks.validate(config)
  model = tasks.get("rcnn").model(config, info)
  shapes = {f["name"]: f["shape"] for f in models.feature_info(model, (227, 227, 3))}
  assert shapes[config.feature] == (1, 1, 4096) and shapes[config.regression_feature] == (6, 6, 256)
  params = models.abstract_variables(model, (227, 227, 3))["params"]
  assert params["classifier"]["fc8"]["kernel"].shape == (4096, 21)
  # SPP-net: ZF-5's conv5 at stride 16, 50 bins × 256 channels into fc6 of 4,096.
  config = sppnet_zf_voc07.get_config()
  tasks.validate(config)
  assert sppnet.geometry(config, (688, 917, 3))[0] == 16.0
  model = tasks.get("sppnet").model(config, info)
  params = jax.eval_shape(model.init, jax.random.PRNGKey(0),
                          jax.ShapeDtypeStruct((1, 500, 500, 3), np.float32))["params"]
  assert params["fc6"]["kernel"].shape == (50 * 256, 4096)
  assert params["cls_score"]["kernel"].shape == (4096, 21)
  assert "classifier" not in params["body"]


def test_photos_of_several_sizes_stack_at_the_top_left_on_the_mean_colour(shared_data):
  from jcnn.detection import data as det_data
  split = det_data.load("raccoon", "test", data_dir=shared_data / "raccoon").subset(4)
  sizes = {split.image(i).shape for i in range(4)}
  assert len(sizes) > 1
  stack = rcnn.stack_images(split, [0.5, 0.25, 1.0])
  assert list(stack.shape[1:]) == rcnn.largest_shape(split) == [
      max(s[0] for s in sizes), max(s[1] for s in sizes), 3]
  for i in range(4):
    h, w, _ = split.image(i).shape
    np.testing.assert_array_equal(stack[i, :h, :w], split.image(i))
    assert (stack[i, h:] == [128, 64, 255]).all() and (stack[i, :, w:] == [128, 64, 255]).all()


def test_eval_predict_searches_a_files_proposals_and_draws_its_detections(spp_trained, tmp_path):
  from PIL import Image
  from eval import detect_files
  workdir, _ = spp_trained
  config = _config("sppnet")
  split = tasks.get("sppnet").load_split(config, config.eval_split)
  path = tmp_path / "canvas.png"
  Image.fromarray(split.image(0)[..., 0]).save(path)
  found = detect_files.predict(workdir, [str(path)], tmp_path / "drawn", score_threshold=-1e9)
  # Every proposal of the file is scored by every class's SVM, then NMS: some survive.
  assert len(found) == 1 and len(found[0]["boxes"]) > 0
  assert (tmp_path / "drawn" / "canvas.png").is_file()


def test_features_of_photos_of_several_sizes_are_those_of_each_photo_alone(shared_data):
  import jax
  from jcnn import models
  from jcnn.detection import data as det_data
  split = det_data.load("raccoon", "test", data_dir=shared_data / "raccoon").subset(3)
  config = _config(model="small_vgg", feature="relu4", regression_feature="relu3",
                   feature_batch_size=8)
  model = models.create("small_vgg", num_classes=2)
  variables = model.init(jax.random.PRNGKey(0), np.zeros((1, 32, 32, 3), np.float32))
  info = {"mean": [0.5] * 3, "std": [0.25] * 3}
  features = rcnn.FeatureFn(config, tasks.get("rcnn").feature_fn(config, model), info)
  cache = [np.array([[10, 10, 60, 80], [5, 20, 40, 40]], np.float32)] * 3
  together = features.of_split(variables, split, cache, with_ground_truth=False)
  for i, found in enumerate(together):
    alone = features.of_image(variables, split.image(i), cache[i])
    np.testing.assert_allclose(found.features, alone.features, rtol=1e-5, atol=1e-5)


def test_windows_go_in_full_calls_and_a_last_one_padded_to_a_power_of_two():
  boxes = np.arange(1100 * 4, dtype=np.float32).reshape(1100, 4)
  index = np.arange(1100, dtype=np.int32) % 3
  calls = list(rcnn.padded_calls(boxes, index, 512))
  assert [(len(b), n) for b, _, n in calls] == [(512, 512), (512, 512), (128, 76)]
  np.testing.assert_array_equal(np.concatenate([b[:n] for b, _, n in calls]), boxes)
  np.testing.assert_array_equal(np.concatenate([i[:n] for _, i, n in calls]), index)
  last_boxes, last_index, n = calls[-1]
  assert (last_boxes[n:] == [0, 0, 1, 1]).all() and (last_index[n:] == 0).all()
  assert [len(b) for b, _, _ in rcnn.padded_calls(boxes[:5], index[:5], 512)] == [64]
  assert [len(b) for b, _, _ in rcnn.padded_calls(boxes[:5], index[:5], 16)] == [16]
  assert list(rcnn.padded_calls(boxes[:0], index[:0], 512)) == []
