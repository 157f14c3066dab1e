"""Trains every run of a study or sweep, one after the other, skipping finished ones.

`python -m train --study train/studies/NAME.py --workdir runs/NAME` or
`python -m train --config C --workdir W --sweep config.FIELD=V1,V2 ...`. The study's
plan is written to <workdir>/study.json (what `python -m eval study` groups runs by);
each run is an ordinary run folder, so an interrupted study resumes where it stopped.
"""
import pathlib
import sys
import time

from jcnn import runs, studies
from jcnn.training.loop import train_and_evaluate


def run_study(study: studies.Study, workdir: str | pathlib.Path, only=None,
              seeds=None):
  """Trains the planned runs in order, yielding one result per run as it ends."""
  workdir = pathlib.Path(workdir)
  planned = studies.plan(study, workdir, only, seeds)
  studies.write_plan(study, workdir)
  for i, p in enumerate(planned, 1):
    label = f"[{i}/{len(planned)}] {p.variant}/{p.workdir.name}"
    if (p.workdir / runs.CONFIG_FILE).exists() and runs.Run.open(p.workdir).finished:
      print(f"{label}: finished, skipped", file=sys.stderr)
      yield {"variant": p.variant, "seed": p.seed, "workdir": str(p.workdir), "skipped": True}
      continue
    print(f"{label}: training", file=sys.stderr)
    start = time.perf_counter()
    result = train_and_evaluate(p.config, str(p.workdir))
    yield {"variant": p.variant, "seed": p.seed, "workdir": str(p.workdir),
           "seconds": round(time.perf_counter() - start, 1), **result}
