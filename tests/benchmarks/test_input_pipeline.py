"""benchmarks/input_pipeline.py --photos times jcnn's streamed photos, at the tiniest
settings: one pipeline, one worker, no memory reading (all three and the memory at 1x and
10x take over a minute even then; the lead's runs measure them)."""
import json
import subprocess
import sys

from tests.helpers import REPO


def test_photo_mode_times_jcnn_streaming_generated_jpegs_in_10_class_folders(tmp_path):
  proc = subprocess.run(
      [sys.executable, "benchmarks/input_pipeline.py", "--photos", "--pipelines", "jcnn",
       "--images", "64", "--workers", "1", "--rounds", "1", "--seconds", "0.5",
       "--memory-batches", "0", "--workdir", str(tmp_path)],
      cwd=REPO, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  [line] = [json.loads(line) for line in proc.stdout.splitlines()]
  assert (line["pipeline"], line["workers"], line["source"], line["photos"]) == (
      "jcnn", 1, "photos", 64)
  assert line["img_per_s"] > 0 and not line["epoch_ended"]
  photos = tmp_path / "photos-64-0"
  assert sorted(p.name for p in (photos / "train").iterdir()) == [f"c{k:02d}" for k in range(10)]
  assert len(list((photos / "train").glob("*/*.jpg"))) == 64
  assert len((photos / "x10" / "train.csv").read_text().splitlines()) == 1 + 640
