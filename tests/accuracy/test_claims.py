"""The accuracy suite: configs trained to the numbers their docstrings promise.

`.ci/run` runs it after the default suite: `python -m pytest -n 2 -m accuracy --dist
worksteal` (~7 min on 2 cores). A claim whose runs build on each other (pre-training,
then R-CNN, then SPP-net on R-CNN's proposals) is one test, so no stage is trained
twice; it is the longest and comes first, and the other worker takes the rest.
Training is deterministic on one CPU, so each run gives the measured number on this
machine; each margin below covers another CPU's float order, not luck. The measured
numbers are read from the stored results (benchmarks/results/, the newest CPU line of
each config), the same lines the docs are rendered from: no number typed twice.

Claims left to the slow tests (`-m slow`) because they take longer than this suite's
budget on 2 cores: rcnn_mnist / sppnet_mnist on all 7,000 canvases (16 min; their quick
variants here run the same pipeline on 1,300), the studies that take 8-38 min, and
every GPU-measured number.
"""
import statistics

import pytest

from benchmarks import store
from jcnn import studies, training
from train.configs import (default, faster_rcnn_digits, lenet5_mnist, rcnn_mnist_quick,
                           resnet20_cifar10_short, resnet20_cifar10_short_streamed,
                           sppnet_mnist_quick)
from train.studies import data_augmentation

pytestmark = pytest.mark.accuracy


def _measured(config: str, metric: str) -> float:
  """`metric` of the newest stored CPU result of `config` trained as it is (seed 0)."""
  lines = [l for l in store.load("accuracy.jsonl") if l.get("config") == config
           and l.get("device") == "cpu" and l.get("seed") == 0 and "model" not in l
           and "num_epochs" not in l and metric in l]
  assert lines, f"no stored {metric} for {config} in benchmarks/results/accuracy.jsonl"
  return lines[-1][metric]


def _study_top1(study: str, variant: str) -> float:
  [line] = [l for l in store.load("studies.jsonl")
            if l.get("study") == study and l.get("variant") == variant]
  return line["top1"]["mean"] / 100


def _train(config, workdir, **fields):
  config.update(fields)
  return training.train_and_evaluate(config, str(workdir))


def test_lenet5_then_rcnn_then_sppnet_reach_their_numbers(tmp_path, shared_data,
                                                         monkeypatch):
  # The configs read MNIST (and build the canvases from it) under $JCNN_DATA_DIR.
  monkeypatch.setenv("JCNN_DATA_DIR", str(shared_data))
  lenet5 = _train(lenet5_mnist.get_config(), tmp_path / "lenet5")
  assert lenet5["num_examples"] == 10_000
  assert lenet5["top1"] >= _measured("lenet5_mnist", "top1") - 0.003
  rcnn = _train(rcnn_mnist_quick.get_config(), tmp_path / "rcnn",
                init_from=str(tmp_path / "lenet5"))
  assert rcnn["num_images"] == 300
  assert rcnn["map50"] >= _measured("rcnn_mnist_quick", "map50") - 0.02
  sppnet = _train(sppnet_mnist_quick.get_config(), tmp_path / "sppnet",
                  init_from=str(tmp_path / "lenet5"), proposals_from=str(tmp_path / "rcnn"))
  assert sppnet["num_images"] == 300
  assert sppnet["map50"] >= _measured("sppnet_mnist_quick", "map50") - 0.02


def test_the_default_job_reaches_99_3_percent_and_bfloat16_stays_within_3_points(tmp_path):
  float32 = _train(default.get_config(), tmp_path / "float32")
  assert float32["num_examples"] == 450
  assert float32["top1"] >= _measured("default", "top1") - 0.005
  bfloat16 = _train(default.get_config(), tmp_path / "bfloat16", dtype="bfloat16")
  assert abs(bfloat16["top1"] - float32["top1"]) <= 0.03


def test_data_augmentation_study_holds_in_direction_and_size(tmp_path):
  top1 = {}
  for result in training.run_study(studies.load(data_augmentation.__file__), tmp_path):
    top1.setdefault(result["variant"], []).append(result["top1"])
  crop, none = statistics.mean(top1["crop"]), statistics.mean(top1["none"])
  assert crop >= _study_top1("data_augmentation", "crop") - 0.005
  assert none >= _study_top1("data_augmentation", "none") - 0.01
  assert crop - none >= 0.01


def test_faster_rcnn_digits_reaches_its_voc_map(tmp_path):
  results = _train(faster_rcnn_digits.get_config(), tmp_path)
  assert results["map50"] >= _measured("faster_rcnn_digits", "map50") - 0.03


def test_resnet20_cifar10_short_reaches_its_top1(tmp_path, shared_data, monkeypatch):
  monkeypatch.setenv("JCNN_DATA_DIR", str(shared_data))
  results = _train(resnet20_cifar10_short.get_config(), tmp_path)
  assert results["num_examples"] == 10_000
  assert results["top1"] >= _measured("resnet20_cifar10_short", "top1") - 0.015


def test_resnet20_cifar10_short_streamed_reaches_the_in_memory_top1(tmp_path, shared_data,
                                                                   monkeypatch):
  # The JPEGs decoded per batch by a worker (pad_crop, flip), not held in memory: the
  # same accuracy as the in-memory run (issue 32's claim), within its seeds' spread.
  monkeypatch.setenv("JCNN_DATA_DIR", str(shared_data))
  results = _train(resnet20_cifar10_short_streamed.get_config(), tmp_path)
  assert results["num_examples"] == 10_000
  assert results["top1"] >= _measured("resnet20_cifar10_short_streamed", "top1") - 0.015
  assert results["top1"] >= _measured("resnet20_cifar10_short", "top1") - 0.015
