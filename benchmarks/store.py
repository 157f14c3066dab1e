"""Stored results: one JSON line per measurement, saying how, where and on what it was taken.

Every benchmark prints its measurements through `emit`, which adds the provenance every
stored line carries (`PROVENANCE`: the command, the commit, the date, the machine, the
jax and jaxlib versions); `--save` (`add_save_flag`) also appends them to a file in
`benchmarks/results/`. A training result is stored the same way from the command line:

    python -m eval --workdir runs/r20 --json | python benchmarks/store.py accuracy.jsonl \
        config=resnet20_cifar10_short seed=0 wall_s=290 \
        --command "python -m train --config train/configs/resnet20_cifar10_short.py"

The documentation's tables are rendered from those files (benchmarks/render.py), so a
published figure is a stored line, never a retyped one.

Lines that were not written by `emit` say so: `"reconstructed"` when the numbers are a
script's output but the provenance was read from git afterwards, `"backfilled": true`
with a `"source"` when the numbers themselves were copied from where they were first
recorded (a docstring, a notebook, a commit) because no raw line was kept. Their
`commit` is the one that stored the figure and their `date` its date, or the day the
source says the figure was measured.
"""
import argparse
import datetime
import functools
import importlib.metadata
import json
import os
import pathlib
import platform
import shlex
import subprocess
import sys

FOLDER = pathlib.Path(__file__).resolve().with_name("results")
PROVENANCE = ("command", "commit", "date", "machine", "jax", "jaxlib")

_save_to: pathlib.Path | None = None


def _git(*args: str) -> str | None:
  try:
    out = subprocess.run(["git", *args], cwd=FOLDER.parent, capture_output=True, text=True,
                         timeout=10)
  except (OSError, subprocess.TimeoutExpired):
    return None
  return out.stdout.strip() if out.returncode == 0 else None


def _version(package: str) -> str | None:
  try:
    return importlib.metadata.version(package)
  except importlib.metadata.PackageNotFoundError:
    return None


def machine() -> str:
  """The CPU (model and cores) and the GPUs nvidia-smi lists, without starting a JAX
  backend (a parent process that held the GPU would starve the children it times)."""
  model = platform.processor() or platform.machine()
  try:
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
      if line.startswith("model name"):
        model = line.split(":", 1)[1].strip()
        break
  except OSError:
    pass
  text = f"{os.cpu_count()}-core {model} ({platform.system()} {platform.machine()})"
  try:
    gpus = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                          capture_output=True, text=True, timeout=10).stdout.split("\n")
  except (OSError, subprocess.TimeoutExpired):
    gpus = []
  gpus = [g.strip() for g in gpus if g.strip()]
  return text + (f", {len(gpus)} × {gpus[0]}" if gpus else "")


@functools.cache
def provenance() -> dict:
  """This process's provenance fields, taken once: every line of one run shares its date,
  which is how a run's rounds are told from another run's."""
  commit = _git("rev-parse", "HEAD")
  if commit and _git("status", "--porcelain", "--untracked-files=no"):
    commit += "-dirty"
  # A copy of the checkout without its .git (a GPU machine's) is told the commit.
  commit = commit or os.environ.get("JCNN_COMMIT") or "unknown"
  return {
      "command": shlex.join(["python", *sys.argv]),
      "commit": commit,
      "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
      "machine": machine(),
      "jax": _version("jax"),
      "jaxlib": _version("jaxlib"),
  }


def add_save_flag(parser, default: str):
  """`--save [FILE]`: also append every emitted line to benchmarks/results/FILE."""
  parser.add_argument("--save", nargs="?", const=default, default=None, metavar="FILE",
                      help=f"also append each JSON line to benchmarks/results/FILE "
                           f"(default {default})")


def save_to(name: str | None):
  """Where `emit` appends from now on (a file name in benchmarks/results/), or nowhere."""
  global _save_to
  _save_to = FOLDER / name if name else None


def emit(record: dict | None = None, /, command: str | None = None, **fields) -> dict:
  """Prints one JSON line: the measurement, then this process's provenance (which
  replaces any a child process's line brought along; `command` names what was measured
  when it is not this process); appends it where `save_to` says."""
  line = {k: v for k, v in {**(record or {}), **fields}.items() if k not in PROVENANCE}
  line.update(provenance())
  if command:
    line["command"] = command
  text = json.dumps(line)
  print(text, flush=True)
  if _save_to is not None:
    with _save_to.open("a") as f:
      f.write(text + "\n")
  return line


class Line(dict):
  """One stored line's fields, knowing the file and the line number it was read from."""

  def __init__(self, file: str, number: int, fields: dict):
    super().__init__(fields)
    self.file, self.number = file, number

  @property
  def where(self) -> str:
    return f"{self.file}:{self.number}"


def load(name: str, folder: pathlib.Path = FOLDER) -> list[Line]:
  """Every line of benchmarks/results/`name`, in file order."""
  text = (folder / name).read_text()
  return [Line(name, number, json.loads(line))
          for number, line in enumerate(text.splitlines(), 1) if line.strip()]


def main(argv=None):
  p = argparse.ArgumentParser(description="Stores one result line: the JSON object on "
                              "stdin (if any) and KEY=VALUE fields, with this machine's "
                              "provenance, appended to benchmarks/results/FILE.")
  p.add_argument("file", metavar="FILE")
  p.add_argument("fields", nargs="*", metavar="KEY=VALUE", help="VALUE is read as JSON "
                 "when it parses (0.731, true, [1, 2]), else as text")
  p.add_argument("--command", required=True, help="the command that measured it")
  args = p.parse_args(argv)
  record = {} if sys.stdin.isatty() else json.loads(sys.stdin.read() or "{}")
  for field in args.fields:
    key, _, value = field.partition("=")
    try:
      record[key] = json.loads(value)
    except json.JSONDecodeError:
      record[key] = value
  save_to(args.file)
  emit(record, command=args.command)


if __name__ == "__main__":
  main()
