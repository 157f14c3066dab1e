"""benchmarks/profile_step.py runs the guarded train step and sorts its time by kind."""
import json
import subprocess
import sys

from tests.helpers import REPO


def test_profile_step_splits_a_lenet_step_into_its_kinds_of_work():
  proc = subprocess.run(
      [sys.executable, "benchmarks/profile_step.py", "--model", "lenet5", "--batch", "16",
       "--steps", "2"], cwd=REPO, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-2000:]
  rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
  by_kind = {r["category"]: r for r in rows}
  assert list(by_kind) == ["conv forward", "conv input-gradient", "conv weight-gradient",
                           "conv as banded GEMMs", "layout transposes", "pooling",
                           "concatenation", "batch norm", "dense layers", "optimizer",
                           "element-wise/other"]
  assert abs(sum(r["share"] for r in rows) - 1) < 0.01
  # LeNet-5 has convolutions, two subsampling layers and dense layers; no concatenation
  # and no batch norm.
  assert by_kind["conv forward"]["thread_ms"] + by_kind["conv as banded GEMMs"]["thread_ms"] > 0
  assert by_kind["pooling"]["thread_ms"] > 0 and by_kind["dense layers"]["thread_ms"] > 0
  assert by_kind["concatenation"]["thread_ms"] == 0 and by_kind["batch norm"]["thread_ms"] == 0
