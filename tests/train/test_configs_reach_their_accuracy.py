"""The configs keep the promises in their docstrings (on real data)."""
import pytest

from train import trainer
from train.configs import default, lenet5_mnist


def test_default_reaches_97_percent_on_digits(tmp_path):
  results = trainer.train_and_evaluate(default.get_config(), str(tmp_path))
  assert results["num_examples"] == 450
  assert results["top1"] >= 0.97


@pytest.mark.slow
def test_lenet5_reaches_99_percent_on_mnist(tmp_path, shared_data, monkeypatch):
  monkeypatch.setenv("JCNN_DATA_DIR", str(shared_data))
  results = trainer.train_and_evaluate(lenet5_mnist.get_config(), str(tmp_path))
  assert results["num_examples"] == 10_000
  assert results["top1"] >= 0.99
