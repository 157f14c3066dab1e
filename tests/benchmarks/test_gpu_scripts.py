"""The GPU scripts run end to end on the CPU (--dry-run), so a GPU loan never finds them broken.

GPU time comes rarely and briefly: a script that fails in its first minute wastes it. Each
script's dry run is the same script, rows and flags, at tiny sizes on the CPU; every row
must print its JSON line with the fields a stored GPU result needs.
"""
import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from benchmarks import gpu_check, gpu_peaks
from tests.helpers import REPO

# Every stored GPU line says what measured it, on what, from which code.
PROVENANCE = ("gpu", "jax", "jaxlib", "commit", "command", "date")
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck")


def _run(command: list[str], env: dict | None = None, timeout: float = 600):
  full_env = {**os.environ, "PYTHON": sys.executable, **(env or {})}
  # The suite's compilation cache (tests/conftest.py): a detector one dry run compiled, the
  # next loads.
  if "JAX_COMPILATION_CACHE_DIR" in os.environ:
    full_env.setdefault("JCNN_COMPILE_CACHE_DIR", os.environ["JAX_COMPILATION_CACHE_DIR"])
  return subprocess.run(command, cwd=REPO, env=full_env, capture_output=True, text=True,
                        timeout=timeout)


def _lines(stdout: str) -> list[dict]:
  return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def _check_dry_run(proc, rows: dict[str, int]) -> list[dict]:
  """Exit status 0 and `rows[name]` lines per row, each a complete dry-run line."""
  assert proc.returncode == 0, proc.stderr[-3000:]
  lines = _lines(proc.stdout)
  assert {name: sum(line["row"] == name for line in lines) for name in rows} == rows
  for line in lines:
    assert line["dry_run"] is True and "error" not in line, line
    assert all(line[field] for field in PROVENANCE), line
    assert line["gpu"] == "cpu"
    if "model_tflop_per_s" in line:  # no CPU is in the peak table: no MFU, never a wrong one
      assert line["mfu"] is None and line["peak_tflop_per_s"] is None
  return lines


@pytest.mark.parametrize("device_kind, dtype, expected", [
    ("NVIDIA H100 80GB HBM3", "bfloat16", ("bf16", 989.5)),   # SXM
    ("NVIDIA H100 PCIe", "bfloat16", ("bf16", 756.5)),
    ("NVIDIA H100 NVL", "bfloat16", ("bf16", 835.5)),
    ("NVIDIA H200", "bfloat16", ("bf16", 989.5)),
    ("NVIDIA H100 80GB HBM3", "float32", ("tf32", 494.5)),     # float32 runs on TF32 cores
    ("NVIDIA H100 PCIe", "float32", ("tf32", 378)),
    ("NVIDIA L4", "bfloat16", ("bf16", 121)),
    ("NVIDIA L40S", "bfloat16", ("bf16", 362.05)),
    ("NVIDIA L40", "bfloat16", ("bf16", 181.05)),
    ("NVIDIA A100-SXM4-80GB", "float32", ("tf32", 156)),
    ("Tesla V100-SXM2-16GB", "float32", ("fp32", 15.7)),       # no TF32 before Ampere
])
def test_the_peak_table_matches_the_exact_device_name(device_kind, dtype, expected):
  assert gpu_peaks.peak(device_kind, dtype) == expected


@pytest.mark.parametrize("device_kind, dtype", [
    ("NVIDIA H100", "bfloat16"),            # a prefix of every H100's name
    ("H100 PCIe", "bfloat16"),
    ("NVIDIA L4 ", "bfloat16"),
    ("nvidia l4", "bfloat16"),
    ("NVIDIA B200", "bfloat16"),            # not in the table
    ("Tesla T4", "bfloat16"),               # no bfloat16 tensor cores
    ("cpu", "float32"),
])
def test_a_device_without_an_exact_peak_gets_no_mfu(device_kind, dtype):
  with pytest.raises(LookupError):
    gpu_peaks.peak(device_kind, dtype)
  fields, warning = gpu_peaks.mfu(100.0, device_kind, dtype)
  assert fields == {"peak": None, "peak_tflop_per_s": None, "mfu": None}
  assert device_kind in warning


def test_mfu_is_model_flops_over_the_peak_and_each_gpu_has_its_own_results_file():
  assert gpu_peaks.mfu(153.8, "NVIDIA H200", "bfloat16")[0]["mfu"] == round(153.8 / 989.5, 4)
  assert gpu_peaks.slug("NVIDIA H200") == "h200"  # benchmarks/results/gpu_h200.jsonl
  assert gpu_peaks.slug("NVIDIA H100 80GB HBM3") != gpu_peaks.slug("NVIDIA H100 PCIe")
  assert gpu_peaks.slug("NVIDIA B200") == "b200"
  assert len({peaks.slug for peaks in gpu_peaks.PEAKS.values()}) == len(gpu_peaks.PEAKS)


def test_the_check_warns_when_jax_is_outside_the_projects_range(monkeypatch):
  monkeypatch.setattr(gpu_check.importlib.metadata, "version", lambda name: "0.11.2")
  assert "outside jcnn's range" in gpu_check._jax_pin_warning()
  monkeypatch.setattr(gpu_check.importlib.metadata, "version", lambda name: "0.10.2")
  assert gpu_check._jax_pin_warning() is None


def test_a_row_adds_mfu_and_provenance_and_a_failed_row_keeps_its_lines_and_says_why():
  printed = json.dumps({"model": "m", "dtype": "bfloat16", "model_tflop_per_s": 98.95})
  ok = _run([sys.executable, "benchmarks/gpu_row.py", "r", "--timeout", "60", "--gpu",
             "NVIDIA H200", "--dry-run", "--", sys.executable, "-c", f"print('{printed}')"])
  assert ok.returncode == 0, ok.stderr
  [line] = _lines(ok.stdout)
  assert (line["row"], line["peak"], line["mfu"], line["gpu"]) == ("r", "bf16", 0.1, "NVIDIA H200")
  assert all(line[field] for field in PROVENANCE)

  script = f"print('{printed}', flush=True); raise SystemExit('the reason')"
  failed = _run([sys.executable, "benchmarks/gpu_row.py", "r", "--timeout", "60", "--gpu",
                 "NVIDIA H200", "--dry-run", "--", sys.executable, "-c", script])
  assert failed.returncode == 1
  kept, error = _lines(failed.stdout)
  assert kept["mfu"] == 0.1
  assert error["error"] == "exit status 1: the reason" and error["gpu"] == "NVIDIA H200"
  assert all(error[field] for field in PROVENANCE)

  slow = _run([sys.executable, "benchmarks/gpu_row.py", "r", "--timeout", "1", "--dry-run",
               "--", sys.executable, "-c", "import time; time.sleep(60)"])
  assert slow.returncode == 1
  assert _lines(slow.stdout)[-1]["error"].startswith("timed out after 1 s")


def test_a_script_whose_time_is_spent_reports_every_row_and_fails():
  proc = _run(["bash", "benchmarks/gpu.sh", "--dry-run"], env={"BUDGET_S": "0"})
  assert proc.returncode == 1
  lines = _lines(proc.stdout)
  assert [line["row"] for line in lines] == [
      "resnet50_bf16", "resnet20_bf16", "resnet20_fp32", "resnet20_bf16_distributed"]
  assert all(line["error"].startswith("not started") for line in lines)
  assert "4 row(s) failed" in proc.stderr


def test_gpu_sh_dry_run_prints_every_row():
  proc = _run(["bash", "benchmarks/gpu.sh", "--dry-run"])
  lines = _check_dry_run(proc, {"resnet50_bf16": 1, "resnet20_bf16": 1, "resnet20_fp32": 1,
                                "resnet20_bf16_distributed": 1})
  assert all("mfu" in line and line["dtype"] in ("float32", "bfloat16") for line in lines)


def test_gpu_faster_rcnn_sh_dry_run_prints_every_measure_of_both_dtypes():
  proc = _run(["bash", "benchmarks/gpu_faster_rcnn.sh", "--dry-run"])
  lines = _check_dry_run(proc, {"faster_rcnn_vgg16_float32": 3,
                                "faster_rcnn_vgg16_bfloat16": 3})
  assert {line["measure"] for line in lines} == {
      "inference_ms_per_image", "train_images_per_s", "proposals_ms_per_image"}
  assert {tuple(line["input"][:2]) for line in lines} == {(64, 96)}


@pytest.fixture
def tiny_cifar10(tmp_path):
  """A data folder whose cifar10/cifar10_jpeg_q75.zip has the real layout: 16 training and
  2 test JPEGs per class (the input pipeline's batch of 128 needs a full batch)."""
  rng = np.random.default_rng(0)
  path = tmp_path / "cifar10" / "cifar10_jpeg_q75.zip"
  path.parent.mkdir()
  with zipfile.ZipFile(path, "w") as zf:
    for split, count in (("train", 16), ("test", 2)):
      for name in CLASSES:
        for i in range(count):
          buffer = io.BytesIO()
          Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
              buffer, "JPEG", quality=75)
          zf.writestr(f"{split}/{name}/{i:04d}.jpg", buffer.getvalue())
  return tmp_path


def test_gpu_plan_sh_dry_run_prints_every_row_and_says_whether_the_input_keeps_up(tiny_cifar10):
  proc = _run(["bash", "benchmarks/gpu_plan.sh", "--dry-run"],
              env={"JCNN_DATA_DIR": str(tiny_cifar10)})
  lines = _check_dry_run(proc, {"resnet50_bf16": 1, "faster_rcnn_vgg16_float32": 3,
                                "faster_rcnn_vgg16_bfloat16": 3, "resnet20_cifar10": 3})
  parts = {line["part"]: line for line in lines if line["row"] == "resnet20_cifar10"}
  assert list(parts) == ["bare_step", "input_pipeline", "end_to_end"]
  run = parts["end_to_end"]
  assert run["finished"] is True and run["steps_done"] == run["total_steps"] == 3
  assert run["evaluations"] == 1 and 0 <= run["top1"] <= 1
  assert run["limited_by"] in ("nothing", "input pipeline", "host loop")
  assert run["input_keeps_up"] == (run["limited_by"] != "input pipeline")
  assert run["end_to_end_over_bare"] == pytest.approx(
      run["img_per_s"] / parts["bare_step"]["img_per_s"], abs=1e-3)
