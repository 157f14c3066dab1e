"""Faster R-CNN through the shared loop: one program, learning, resume, init_from, eval.

Every run is the digits config cut to 32 training canvases of 64×64 and a few steps,
so the module trains in well under a minute on a CPU.
"""
import itertools
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jcnn import parallel, precision, runs, tasks, training
from jcnn import state as state_lib
from tests.helpers import eval_json, tiny_config
from train.configs import faster_rcnn_digits


@pytest.fixture(scope="module", autouse=True)
def canvas_cache(tmp_path_factory):
  """One canvas cache for the module, so each test does not rebuild the canvases."""
  with pytest.MonkeyPatch.context() as patch:
    patch.setenv("JCNN_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield


def _config(**overrides):
  c = faster_rcnn_digits.get_config()
  c.canvas.num_train, c.canvas.num_test = 32, 8
  c.batch_size, c.eval_batch_size = 4, 8
  c.rpn_batch_size, c.roi_batch_size = 64, 32
  c.rpn_pre_nms_top_n_train, c.rpn_post_nms_top_n_train = 200, 50
  c.rpn_pre_nms_top_n_test, c.rpn_post_nms_top_n_test = 100, 20
  c.num_train_steps, c.checkpoint_every_steps, c.log_every_steps = 12, 6, 6
  c.warmup_epochs = 0.0
  c.update(overrides)
  return c


def _training(config):
  mesh = parallel.make_mesh(1)
  task = tasks.get("detection")
  parts = task.training(config, mesh)
  state = state_lib.create(parts.model, optax.adam(1e-3), rng=jax.random.PRNGKey(0),
                           input_shape=task.input_shape(parts.dataset_info),
                           apply_fn=tasks.apply_fn(config, parts.model))
  return parts, state


def test_the_train_step_is_one_program_without_host_callbacks():
  parts, state = _training(_config())
  batches = list(itertools.islice(parts.batches(0, 0), 3))
  assert "callback" not in str(jax.make_jaxpr(parts.train_step)(state, batches[0]))
  step = jax.jit(parts.train_step)
  for _ in range(2):  # the fresh state's Python scalars become arrays after a step
    state, _ = step(state, batches[0])
  compiled = step._cache_size()
  for batch in batches[1:]:
    state, metrics = step(state, batch)
  assert step._cache_size() == compiled  # every batch has one shape: no recompile
  # py-faster-rcnn's sampling, per image: at most 25 % of the 32 RoIs are foreground.
  assert 0 < float(metrics["fg_rois"]) <= 8 and float(metrics["rpn_positives"]) >= 1


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_twenty_steps_on_one_batch_lower_every_loss(dtype):
  parts, state = _training(_config(dtype=dtype))
  batch = next(parts.batches(0, 0))
  step = jax.jit(parts.train_step)
  history = []
  for _ in range(20):
    state, metrics = step(state, batch)
    history.append(jax.device_get(metrics))
  first, last = history[0], history[-1]
  assert last["loss"] < 0.5 * first["loss"]
  for part in ("rpn_cls", "head_cls"):
    assert last[part] < first[part], part


def test_bfloat16_runs_the_network_in_bfloat16_and_boxes_scores_losses_in_float32():
  parts, state = _training(_config())
  model, batch = parts.model, next(parts.batches(0, 0))
  half = {"params": precision.cast_floating(state.params, jnp.bfloat16)}
  full = {"params": state.params}
  features = model.apply(half, batch["image"].astype(jnp.bfloat16), method=model.features)
  assert features.dtype == jnp.bfloat16
  rois = batch["boxes"]  # [B, max_boxes, 4], any boxes will do
  outputs = {dtype: [*model.apply(variables, f, method=model.rpn),
                     *model.apply(variables, f, rois, method=model.box_head)]
             for dtype, variables, f in [
                 ("bfloat16", half, features),
                 ("float32", full, model.apply(full, batch["image"], method=model.features))]}
  for got, want in zip(outputs["bfloat16"], outputs["float32"]):
    assert got.dtype == jnp.float32  # what decoding, NMS, scores and the losses read
    # Several layers at 8 significant bits: within a few % of the float32 values' scale.
    np.testing.assert_allclose(got, want, atol=0.05 * float(jnp.abs(want).max()))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("frcnn") / "run"
  results = training.train_and_evaluate(_config(), str(workdir))
  return workdir, results


def test_a_run_resumed_from_its_middle_checkpoint_ends_bitwise_equal(trained, tmp_path):
  workdir, results = trained
  copy = tmp_path / "copy"
  shutil.copytree(workdir, copy, ignore=shutil.ignore_patterns(runs.LOCK_FILE))
  run = runs.Run.open(copy)
  assert run.steps() == [6, 12]
  shutil.rmtree(run.checkpoint_dir / "12")  # as if killed after the step-6 checkpoint
  assert training.train_and_evaluate(_config(), str(copy))["step"] == 12
  want = tasks.restore(runs.Run.open(workdir), 12).variables["params"]
  got = tasks.restore(runs.Run.open(copy), 12).variables["params"]
  jax.tree.map(np.testing.assert_array_equal, want, got)


def test_eval_detect_reports_the_run_s_own_numbers(trained, capsys):
  workdir, results = trained
  out = eval_json(capsys, "detect", "--workdir", str(workdir), "--json")
  assert out["step"] == 12 and out["num_images"] == 8
  assert out["map50"] == pytest.approx(results["map50"], abs=1e-9)
  assert set(out["per_class"]) <= set(runs.Run.open(workdir).dataset_info["class_names"])


def test_eval_predict_draws_each_image(trained, tmp_path, capsys):
  workdir, _ = trained
  from PIL import Image
  from jcnn.detection import data as det_data
  split = det_data.load("digits_detection", "test",
                        canvas=det_data.CanvasConfig(size=64, max_digits=4, min_digit_size=12,
                                                     max_digit_size=28, num_train=32,
                                                     num_test=8))
  path = tmp_path / "canvas.png"
  Image.fromarray(split.image(0)[..., 0]).save(path)
  out_dir = tmp_path / "drawn"
  predictions = eval_json(capsys, "predict", "--workdir", str(workdir), str(path),
                          "--output", str(out_dir), "--json")["predictions"]
  assert len(predictions) == 1 and (out_dir / "canvas.png").is_file()
  assert Image.open(out_dir / "canvas.png").mode == "RGB"


def _classifier(tmp_path, model):
  config = tiny_config(model=model, num_epochs=1, train_examples=64, eval_examples=32,
                       batch_size=32, eval_batch_size=32)
  if model == "small_vgg":
    config.resize = 16
  workdir = tmp_path / model
  training.train_and_evaluate(config, str(workdir))
  return workdir


def test_init_from_starts_the_backbone_from_a_classification_run(tmp_path):
  source = _classifier(tmp_path, "small_vgg")
  parts, state = _training(_config(init_from=str(source)))
  params = parts.init_variables({"params": state.params, "batch_stats": state.batch_stats})[
      "params"]
  trained_params = tasks.restore(runs.Run.open(source)).variables["params"]
  for layer in params["body"]:
    for name, value in params["body"][layer].items():
      np.testing.assert_array_equal(value, trained_params[layer][name])
  assert "fc" not in params["body"]  # the classifier beyond the cut is not part of it


def test_init_from_a_run_of_another_model_is_refused(tmp_path):
  source = _classifier(tmp_path, "lenet5")
  with pytest.raises(ValueError, match="trained model 'lenet5'.*backbone is 'small_vgg'"):
    tasks.get("detection").training(_config(init_from=str(source)), parallel.make_mesh(1))


def test_a_detection_config_with_a_bad_field_is_refused_before_anything_is_written(tmp_path):
  for field, value, message in [("dataset", "mnist", "unknown detection dataset 'mnist'"),
                                ("model", "lenet5", "no detection backbone"),
                                ("fg_fraction", 1.5, "config.fg_fraction=1.5")]:
    with pytest.raises(ValueError, match=message):
      training.train_and_evaluate(_config(**{field: value}), str(tmp_path / field))
    assert not (tmp_path / field).exists()


@pytest.mark.parametrize("config_name, feature, fc6_inputs", [
    ("faster_rcnn_vgg16_voc07", "relu5_3", 7 * 7 * 512),   # RoI pooling 7×7 into fc6
    ("faster_rcnn_zf_voc07", "relu5", 6 * 6 * 256),        # ZF: 6×6
])
def test_the_paper_configs_build_the_paper_s_detector(config_name, feature, fc6_inputs):
  import importlib
  config = importlib.import_module(f"train.configs.{config_name}").get_config()
  tasks.validate(config)
  info = {"class_names": [str(c) for c in range(20)], "image_shape": [224, 224, 3]}
  model = tasks.get("detection").model(config, info)
  params = jax.eval_shape(model.init, jax.random.PRNGKey(0),
                          jax.ShapeDtypeStruct((1, 224, 224, 3), np.float32))["params"]
  assert model.feature == "" and faster_rcnn_backbone(config.model).feature == feature
  assert "classifier" not in params["body"]  # cut before the classifier
  head = params["box_predictor"]
  assert head["fc6"]["kernel"].shape == (fc6_inputs, 4096)
  assert head["cls_score"]["kernel"].shape == (4096, 21)
  assert head["bbox_pred"]["kernel"].shape == (4096, 84)
  assert params["rpn_head"]["objectness"]["kernel"].shape[-1] == 9  # 3 scales × 3 ratios


def faster_rcnn_backbone(name):
  from jcnn import models
  return models.backbone(name)
