"""`python -m eval export`: each format reloaded by its own runtime gives jcnn's logits,
at any batch, with no jcnn kernel inside; and what it refuses."""
import json
import re

import jax
import numpy as np
import pytest

from eval import __main__ as eval_main
from jcnn import data, kernels, runs, tasks, training
from tests.helpers import eval_error, eval_json, tiny_config

# As MNIST for LeNet-5: the export takes 28×28 digits, the model 32×32 (padded by 2).
_SIZE, _PAD = 28, 2


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("export_run")
  training.train_and_evaluate(
      tiny_config(num_epochs=1, train_examples=128, eval_examples=64, resize=_SIZE,
                  pad=_PAD), str(workdir))
  return workdir


def _pixels(batch: int) -> np.ndarray:
  """Whole-number pixels, so the uint8 images jcnn's own pipeline reads are the same."""
  return np.random.default_rng(batch).integers(0, 256, (batch, _SIZE, _SIZE, 1)).astype(np.float32)


def _jcnn_logits(workdir, pixels: np.ndarray) -> np.ndarray:
  """The logits jcnn's evaluation computes: its own padding, normalisation and batches."""
  run = runs.Run.open(workdir)
  task = tasks.get(run.config.task)
  restored = task.restore(run)
  info = run.dataset_info
  split = data.prepare(data.Split(
      images=pixels.astype(np.uint8), labels=np.zeros(len(pixels), np.int32),
      class_names=tuple(info["class_names"]), name="pixels", split="test"), pad=_PAD)
  logits = [restored.apply(restored.variables, b["image"], train=False)[b["mask"] > 0]
            for b in task.batches(run.config, info, split, train=False)]
  return np.concatenate(logits)


def _reload(folder, format_: str):
  """The exported function, loaded by its format's runtime: pixels -> logits."""
  if format_ == "stablehlo":
    exported = jax.export.deserialize(bytearray((folder / "model.stablehlo").read_bytes()))
    return lambda pixels: np.asarray(exported.call(pixels))
  import tensorflow as tf
  signature = tf.saved_model.load(str(folder)).signatures["serving_default"]
  return lambda pixels: signature(pixels=tf.constant(pixels))["logits"].numpy()


@pytest.mark.parametrize("format_", ["stablehlo", "saved_model"])
def test_an_export_reloaded_gives_jcnns_logits_at_any_batch(run, tmp_path, capsys, format_):
  folder = tmp_path / format_
  shown = eval_json(capsys, "export", "--workdir", str(run), "--format", format_,
                    "--output", str(folder), "--json")
  serve = _reload(folder, format_)
  for batch in (1, 3):
    pixels = _pixels(batch)
    np.testing.assert_allclose(serve(pixels), _jcnn_logits(run, pixels), rtol=0, atol=1e-5)
  written = json.loads((folder / "export.json").read_text())
  assert written == {k: v for k, v in shown.items() if k != "folder"}
  assert written["input"] == {"name": "pixels", "shape": [None, _SIZE, _SIZE, 1],
                              "dtype": "float32", "layout": "NHWC", "range": [0, 255],
                              "colour": "grayscale"}
  assert written["output"]["shape"] == [None, 10]
  assert written["class_names"] == [str(d) for d in range(10)]
  assert sorted(p.name for p in tmp_path.iterdir()) == [format_]  # no partial folder left


def test_the_stablehlo_holds_no_custom_call_of_jcnn_even_when_onednn_is_forced(run, tmp_path,
                                                                               capsys):
  (tmp_path / "x").mkdir()  # an empty folder is taken
  with kernels.use("onednn"):
    eval_json(capsys, "export", "--workdir", str(run), "--format", "stablehlo",
              "--output", str(tmp_path / "x"), "--json")
  exported = jax.export.deserialize(bytearray((tmp_path / "x" / "model.stablehlo").read_bytes()))
  text = exported.mlir_module()
  # shape_assertion: jax.export's check of the symbolic batch when called.
  assert set(re.findall(r"custom_call\s*@([\w.]+)", text)) == {"shape_assertion"}
  assert "stablehlo.convolution" in text  # XLA's own
  assert exported.platforms == ("cpu", "cuda", "tpu")


def test_onnx_is_refused_in_one_line_and_writes_nothing(run, tmp_path, capsys):
  err = eval_error(capsys, "export", "--workdir", str(run), "--format", "onnx",
                   "--output", str(tmp_path / "x"))
  assert err.startswith("error: --format onnx: no converter works with jax 0.10")
  assert list(tmp_path.iterdir()) == []


def test_a_non_empty_output_folder_is_refused_and_left_alone(run, tmp_path, capsys):
  (tmp_path / "x").mkdir()
  (tmp_path / "x" / "mine.txt").write_text("keep")
  err = eval_error(capsys, "export", "--workdir", str(run), "--format", "stablehlo",
                   "--output", str(tmp_path / "x"))
  assert err == (f"error: --output {tmp_path / 'x'} exists and is not an empty folder; "
                 "export writes a new one")
  assert [p.name for p in tmp_path.iterdir()] == ["x"]
  assert [p.name for p in (tmp_path / "x").iterdir()] == ["mine.txt"]


def test_a_detection_run_is_refused_in_one_line(tmp_path, capsys):
  workdir = tmp_path / "frcnn"
  workdir.mkdir()
  runs.save_json(workdir / runs.CONFIG_FILE, {"task": "detection"})
  err = eval_error(capsys, "export", "--workdir", str(workdir), "--format", "stablehlo",
                   "--output", str(tmp_path / "x"))
  assert err == (f"error: {workdir} is a detection run; export takes classification runs "
                 "(a detector is more than one function of its pixels)")
  assert not (tmp_path / "x").exists()


def test_an_output_inside_the_run_is_refused(run, capsys):
  err = eval_error(capsys, "export", "--workdir", str(run), "--format", "stablehlo",
                   "--output", str(run / "export"))
  assert "is inside the run folder" in err and not (run / "export").exists()


def test_export_is_a_command_with_its_options(capsys):
  with pytest.raises(SystemExit) as exit_:
    eval_main.main(["export", "--help"])
  assert exit_.value.code == 0
  out = capsys.readouterr().out
  for option in ("--workdir", "--step", "--format", "--output", "--json", "stablehlo",
                 "saved_model", "onnx"):
    assert option in out
