"""The pages' figures are what benchmarks/render.py draws from the stored results, and
every stored line says how, where and on what it was measured (benchmarks/store.py)."""
import ast
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys

import pytest

from benchmarks import render, store
from jcnn import pretrained
from tests.helpers import REPO


def test_the_pages_equal_what_the_stored_results_render():
  assert render.check() == []


def test_every_page_with_a_figure_is_one_the_check_reads():
  # A span on a page render.DOCS leaves out would never be checked.
  pages = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                          "*.md"], cwd=REPO, capture_output=True, text=True, check=True)
  with_figures = {page for page in pages.stdout.split() if (REPO / page).is_file()
                  and "<!-- results:" in (REPO / page).read_text()}
  assert with_figures and with_figures <= set(render.DOCS)
  assert "README.md" in render.DOCS and "docs/training.md" in render.DOCS


def test_a_figure_edited_by_hand_makes_the_check_fail(tmp_path):
  for doc in render.DOCS:
    (tmp_path / doc).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / doc, tmp_path / doc)
  (page,) = [doc for doc in render.DOCS
              if "<!-- results:speed-headline -->" in (tmp_path / doc).read_text()]
  text = (tmp_path / page).read_text()
  headline = re.search(r"<!-- results:speed-headline -->(.*?)<!--", text)
  digit = next(i for i in range(*headline.span(1)) if text[i].isdigit())
  (tmp_path / page).write_text(text[:digit] + str((int(text[digit]) + 1) % 10) +
                               text[digit + 1:])
  problems = render.check(tmp_path)
  assert len(problems) == 1
  assert problems[0].startswith(f"{page}: speed-headline differs from the stored results")


def test_a_pretrained_map_without_a_stored_parity_line_stops_the_rendering(tmp_path):
  maps = [(source, model) for source, by_model in sorted(pretrained.SOURCES.items())
          for model in sorted(by_model)]
  line = lambda source, model, error, day: json.dumps({
      "source": source, "model": model, "file": f"{model}.pth", "num_params": 1000,
      "source_network": pretrained.find_map(source, model).source,
      "max_rel_logit_error": error, "date": f"2026-12-0{day}T00:00:00+00:00"}) + "\n"
  stored = tmp_path / "pretrained_parity.jsonl"
  stored.write_text("".join(line(*m, 1e-6, 1) for m in maps[1:]))
  table = render.SPANS["pretrained-maps"][0]
  (source, model), (newer_source, newer_model) = maps[0], maps[1]
  with pytest.raises(LookupError, match=f"no line for the {source} map of {model}: "
                     f"python benchmarks/pretrained_parity.py --source {source}"):
    table(render.Reader(tmp_path))
  stored.write_text(stored.read_text() + line(source, model, 1e-6, 1) +
                    line(newer_source, newer_model, 3e-5, 2))
  rows = table(render.Reader(tmp_path)).splitlines()[2:]
  assert len(rows) == len(maps)
  assert f"| `{newer_model}` | 1,000 |" in rows[1] and rows[1].endswith(" | 3.0e-05 |")


def test_every_stored_line_says_how_where_and_on_what_it_was_measured():
  for path in sorted(store.FOLDER.glob("*.jsonl")):
    for line in store.load(path.name):
      assert [k for k in store.PROVENANCE if k not in line] == [], line.where
      assert line["commit"] and line["date"] and line["machine"], line.where
      if line.get("backfilled"):
        assert line.get("source"), f"{line.where}: backfilled without a source"


def test_a_figure_stored_from_a_docstring_is_still_in_that_docstring():
  checked = 0
  for name in ("accuracy.jsonl", "studies.jsonl"):
    for line in store.load(name):
      path, _, kind = line.get("source", "").partition(" ")
      if not (path.endswith(".py") and kind.startswith("docstring")):
        continue
      doc = ast.get_docstring(ast.parse((REPO / path).read_text()))
      figures = [render.duration(line["wall_s"])] if "wall_s" in line else []
      for key in ("top1", "map50", "map50_11pt", "coco_ap"):
        value = line.get(key)
        if isinstance(value, dict):
          figures.append(f"{value['mean']:.2f} ± {value['std']:.2f}")
        elif value is not None:
          figures.append(next((f for f in (f"{100 * value:.2f}", f"{100 * value:.1f}",
                                           f"{value:.4f}", f"{value:.3f}") if f in doc),
                              f"{value} (in no form)"))
      assert [f for f in figures if f not in doc] == [], line.where
      checked += 1
  assert checked > 40


def test_emit_prints_and_stores_the_measurement_with_this_process_provenance(
    tmp_path, monkeypatch, capsys):
  monkeypatch.setattr(store, "FOLDER", tmp_path)
  store.save_to("bench.jsonl")
  try:
    line = store.emit({"img_per_s": 512.0, "commit": "a child process's"}, repeat=2)
  finally:
    store.save_to(None)
  assert json.loads(capsys.readouterr().out) == line
  assert [json.loads(t) for t in (tmp_path / "bench.jsonl").read_text().splitlines()] == [line]
  assert line["img_per_s"] == 512.0 and line["repeat"] == 2
  assert list(line)[2:] == list(store.PROVENANCE)
  assert line["commit"] == store.provenance()["commit"] != "a child process's"
  assert line["jax"] == importlib.metadata.version("jax")
  assert line["command"].startswith("python ")


def test_provenance_outside_git_names_the_commit_unknown(tmp_path, monkeypatch):
  monkeypatch.setattr(store, "FOLDER", tmp_path / "results")
  store.provenance.cache_clear()
  try:
    assert store.provenance()["commit"] == "unknown"
  finally:
    store.provenance.cache_clear()


def test_several_rounds_show_their_median_and_range_and_ratios_pair_within_a_round():
  lines = [{"framework": f, "model": "lenet5", "mode": "train", "batch": 128,
            "dtype": "float32", "repeat": k, "img_per_s": v}
           for k, (torch, jcnn) in enumerate([(100, 150), (200, 180), (120, 120)])
           for f, v in (("torch", torch), ("jcnn", jcnn))]
  row = render.compare_table(lines).splitlines()[-1]
  # Medians 120 and 150; per-round ratios 1.50, 0.90, 1.00 (not 150 / 120 = 1.25).
  assert row == ("| lenet5 | train | 128 | 120 (100–200) | 150 (120–180) | "
                 "**1.00** (0.90–1.50) |")


def test_a_training_result_is_stored_from_the_command_line_with_provenance(tmp_path):
  out = tmp_path / "accuracy.jsonl"
  proc = subprocess.run(
      [sys.executable, "benchmarks/store.py", str(out), "config=default", "top1=0.993",
       "--command", "python -m train"], input='{"top5": 1.0}', cwd=REPO,
      capture_output=True, text=True, timeout=60)
  assert proc.returncode == 0, proc.stderr
  (line,) = [json.loads(t) for t in out.read_text().splitlines()]
  assert line == json.loads(proc.stdout)
  assert (line["top5"], line["config"], line["top1"]) == (1.0, "default", 0.993)
  assert line["command"] == "python -m train" and set(store.PROVENANCE) <= set(line)
