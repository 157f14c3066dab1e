"""One row of a GPU script: a benchmark command run on its own, its JSON lines completed.

    python benchmarks/gpu_row.py resnet50_bf16 --timeout 120 --gpu "NVIDIA H200" -- \
        python benchmarks/train_step.py --model resnet50 --batch 256 --dtype bfloat16 --flops

Runs the command for at most --timeout seconds (then SIGTERM to everything it started, and
SIGKILL 30 s later), passing its error output through as it comes, and prints again each
JSON line it printed, as it prints it, with:
  - `row`: the row's name; `gpu`: the device the line was measured on (its `device`
    field), else --gpu; `dry_run`: true with --dry-run;
  - `peak`, `peak_tflop_per_s` and `mfu` where the line has `model_tflop_per_s`
    (benchmarks/gpu_peaks.py; null, with a warning, for a GPU the table lacks);
  - the provenance of benchmarks/store.py (command, commit, date, machine, jax, jaxlib).
Each line is appended to benchmarks/results/gpu_<slug>.jsonl (gpu_peaks.slug of the GPU),
except in a dry run. A row that fails (non-zero exit, past its time, or no JSON line)
keeps the lines it printed, prints one more with `error` (and stores it too), and exits 1:
the script that runs the rows goes on with the next one.
"""
import argparse
import collections
import io
import json
import os
import pathlib
import shlex
import signal
import subprocess
import sys
import threading

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks import gpu_peaks, store  # noqa: E402

_GRACE_S = 30  # after SIGTERM: python -m train saves a checkpoint, a row its last line


def _parse(argv):
  p = argparse.ArgumentParser(usage="%(prog)s NAME --timeout S [--gpu G] [--dry-run] -- "
                              "COMMAND ARGS...", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("name", help="the row's name, e.g. resnet50_bf16")
  p.add_argument("--timeout", type=float, required=True,
                 help="seconds the command may run (<= 0: not started, the row fails)")
  p.add_argument("--gpu", default="", help="the device's name (jax device_kind), for "
                 "lines that do not say it and for the results file")
  p.add_argument("--dry-run", action="store_true",
                 help="mark the lines dry_run and store nothing")
  argv = sys.argv[1:] if argv is None else argv
  if "--" not in argv or argv[-1] == "--":
    p.error("no command: NAME --timeout S -- COMMAND ARGS...")
  split = argv.index("--")
  args = p.parse_args(argv[:split])
  args.command = argv[split + 1:]
  return args


class _Row:
  """Completes and emits the lines of one row."""

  def __init__(self, args):
    self.name, self.gpu, self.dry_run = args.name, args.gpu, args.dry_run
    self.command = shlex.join(args.command)
    self.lines = 0
    store.save_to(None if self.dry_run else f"gpu_{gpu_peaks.slug(self.gpu or 'unknown')}.jsonl")

  def emit(self, record: dict) -> None:
    gpu = record.get("device") or self.gpu
    fields = {"row": self.name, **record, "gpu": gpu}
    if "model_tflop_per_s" in record and "dtype" in record:
      extra, warning = gpu_peaks.mfu(record["model_tflop_per_s"], gpu, record["dtype"])
      fields.update(extra)
      if warning:
        print(f"# warning: {self.name}: {warning}", file=sys.stderr, flush=True)
    if self.dry_run:
      fields["dry_run"] = True
    store.emit(fields, command=self.command)
    self.lines += 1

  def fail(self, error: str) -> int:
    print(f"# {self.name} failed: {error}", file=sys.stderr, flush=True)
    self.emit({"error": error})
    return 1


def _tee(stream, last: collections.deque) -> None:
  """Passes the child's error output through, keeping its last lines."""
  for line in stream:
    sys.stderr.write(line)
    sys.stderr.flush()
    if line.strip():
      last.append(line.strip())


def _stop(proc: subprocess.Popen, stopped: list) -> None:
  """SIGTERM to the command's process group, SIGKILL if it is still there after the grace."""
  stopped.append(True)
  for sig, grace in ((signal.SIGTERM, _GRACE_S), (signal.SIGKILL, None)):
    try:
      os.killpg(proc.pid, sig)
      proc.wait(grace)
      return
    except ProcessLookupError:  # it ended meanwhile
      return
    except subprocess.TimeoutExpired:
      continue


def main(argv=None) -> int:
  args = _parse(argv)
  row = _Row(args)
  if args.timeout <= 0:
    return row.fail("not started: the script's time was spent")
  # Its own session, so that a timeout ends whatever it started (python -m train's children).
  try:
    proc = subprocess.Popen(args.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
  except OSError as e:
    return row.fail(f"cannot start {args.command[0]}: {e}")
  stdout = io.TextIOWrapper(proc.stdout, encoding="utf-8", errors="replace")
  # newline="": a progress bar's "\r" updates pass through as they are, not as new lines.
  stderr = io.TextIOWrapper(proc.stderr, encoding="utf-8", errors="replace", newline="")
  last = collections.deque(maxlen=5)
  tee = threading.Thread(target=_tee, args=(stderr, last), daemon=True)
  tee.start()
  stopped = []
  timer = threading.Timer(args.timeout, _stop, (proc, stopped))
  timer.start()
  try:
    for line in stdout:
      if line.startswith("{"):
        try:
          record = json.loads(line)
        except json.JSONDecodeError:
          print(line, end="", flush=True)
          continue
        row.emit(record)
      else:
        print(line, end="", flush=True)
    status = proc.wait()
  finally:
    timer.cancel()
  tee.join(5)
  said = f": {last[-1][:300]}" if last else ""
  if stopped:
    return row.fail(f"timed out after {args.timeout:.0f} s{said}")
  if status:
    return row.fail(f"exit status {status}{said}")
  if not row.lines:
    return row.fail("printed no JSON line")
  return 0


if __name__ == "__main__":
  sys.exit(main())
