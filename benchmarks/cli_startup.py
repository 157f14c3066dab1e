"""How long the two programs take to print their help: what a user waits for first.

    python benchmarks/cli_startup.py              # 7 alternating rounds of each command
    python benchmarks/cli_startup.py --save       # also store the lines (cli_startup.jsonl)

Each command is a fresh process from the repository root (`python -m ...`, and the installed
console scripts when they are on the PATH); rounds alternate between the commands so a
busy moment of the machine falls on all of them. One JSON line per command: the median
and range of the wall times in seconds.
"""
import argparse
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import store  # noqa: E402

COMMANDS = (
    ("python -m eval --help", [sys.executable, "-m", "eval", "--help"]),
    ("python -m eval predict --help", [sys.executable, "-m", "eval", "predict", "--help"]),
    ("python -m train --helpshort", [sys.executable, "-m", "train", "--helpshort"]),
    ("jcnn-eval --help", ["jcnn-eval", "--help"]),
    ("jcnn-train --helpshort", ["jcnn-train", "--helpshort"]),
)


def _seconds(argv: list[str]) -> float:
  start = time.perf_counter()
  subprocess.run(argv, cwd=REPO, capture_output=True, check=False)  # absl's help exits 1
  return time.perf_counter() - start


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--rounds", type=int, default=7)
  store.add_save_flag(p, "cli_startup.jsonl")
  args = p.parse_args(argv)
  store.save_to(args.save)
  commands = [(name, cmd) for name, cmd in COMMANDS
              if cmd[0] == sys.executable or shutil.which(cmd[0])]
  times = {name: [] for name, _ in commands}
  for _ in range(args.rounds):
    for name, cmd in commands:
      times[name].append(_seconds(cmd))
  for name, seconds in times.items():
    store.emit(measured=name, rounds=len(seconds), median_s=round(statistics.median(seconds), 3),
               min_s=round(min(seconds), 3), max_s=round(max(seconds), 3))


if __name__ == "__main__":
  main()
