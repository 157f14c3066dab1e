"""Train a model: `jcnn-train [--config NAME|FILE] [--workdir DIR] [--config.KEY=VALUE ...]`.

`jcnn-train` is what `pip install` puts on the PATH; `python -m train` is the same program
(from a checkout it runs without installing). A config or study is given by the name of
a shipped one (`--config resnet20_cifar10`) or by the path of a file of one's own.

Deliberately thin: parsing and error reporting only; the loop is `jcnn.training`.
With no arguments it trains LeNet-5 on the embedded digits into runs/lenet5_digits.
Running the same command again resumes from the latest checkpoint in the workdir.
A second `python -m train` on a workdir in use exits at once. SIGTERM or Ctrl-C saves
a checkpoint at the current step first, so the same command continues from there.
Compiled programs are cached in $JCNN_CACHE_DIR/xla (default ~/.cache/jcnn/xla), so a
second start skips most of the compilation. `--config.xla_cpu_flags` turns on XLA:CPU
flags measured faster for some models (the CIFAR ResNets' configs set it);
JCNN_XLA_CPU_FLAGS=1 / 0 forces them on / off (see jcnn/runtime.py).

Several processes (one per host, or several on one machine) train one run together
with --coordinator, --num_processes and --process_id (docs/multi_host.md); process 0
writes the logs and shows the progress.

In a group each process trains in a child process it supervises (jcnn/supervisor.py):
when another process of the group dies, every survivor stops within --peer_timeout
seconds with one line naming the lost process and the last good checkpoint.

A misspelt flag or config field, a bad value or a config file that does not load stops
the program with one line, `error: ...` (with the closest name where there is one).
Flags are spelt with underscores, as in `python -m eval` (--num_processes); the
hyphenated spelling (--num-processes) works too.

Exit status: 0 done; 2 bad flag or config, workdir in use, unreadable data or checkpoints;
3 stopped after config.max_nonfinite_steps non-finite steps in a row; 75 a process of
the group was lost (start the whole group again to resume); 130 / 143 interrupted by
SIGINT / SIGTERM (checkpoint saved).

Examples:
  python -m train
  python -m train --config lenet5_mnist --workdir runs/mnist
  python -m train --config my_configs/lenet5_wide.py   # a config of one's own
  python -m train --config.num_epochs=5 --config.optimizer=momentum --config.learning_rate=0.01
  python -m train --study data_augmentation --workdir runs/data_augmentation
  python -m train --workdir runs/lr --sweep config.learning_rate=1e-3,3e-3 --sweep config.seed=0,1
  python -m train --coordinator=node0:1234 --num_processes=2 --process_id=0   # and =1
"""
import difflib
import json
import pathlib
import re
import sys

from absl import app, flags
from ml_collections import config_flags

_HERE = pathlib.Path(__file__).parent
_DEFAULT_CONFIG = str(_HERE / "configs" / "default.py")
# Where --config NAME and --study NAME look: the program's own folders, wherever installed.
_SHIPPED = {"config": _HERE / "configs", "study": _HERE / "studies"}


def _shipped(kind: str) -> list[str]:
  return sorted(p.stem for p in _SHIPPED[kind].glob("[!_]*.py"))


_CONFIG_HELP = ("Experiment config: a shipped config's name (resnet20_cifar10) or a config "
                "file of your own; override fields with --config.KEY=VALUE. Shipped: "
                + ", ".join(_shipped("config")) + ".")
_STUDY = flags.DEFINE_string(
    "study", None, "A study, by name (data_augmentation) or file: train every variant × "
    "seed into <workdir>/<variant>/seed_<k>, skipping finished runs. Replaces --config. "
    "Shipped: " + ", ".join(_shipped("study")) + ".")
_SWEEP = flags.DEFINE_multi_string(
    "sweep", [], "config.FIELD=V1,V2,...: train the cartesian product of all --sweep "
    "flags, one run folder per combination under --workdir (config.seed sweeps seeds).")
_ONLY = flags.DEFINE_list("only", [], "With --study/--sweep: train only these variants.")
_SEEDS = flags.DEFINE_list("seeds", [], "With --study/--sweep: train only these seeds.")
_COORDINATOR = flags.DEFINE_string(
    "coordinator", None, "HOST:PORT of process 0, for training on several processes "
    "(jax.distributed; give --num_processes and --process_id too). Without it, a SLURM, "
    "Open MPI, Kubernetes or Cloud TPU cluster is detected from the environment.")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Processes in the group.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's rank, 0 to "
                                   "num_processes - 1; process 0 writes the run's files.")
_JOIN_TIMEOUT = flags.DEFINE_integer(
    "join_timeout", 120, "Seconds to wait for the coordinator and the other processes.")
_PEER_TIMEOUT = flags.DEFINE_integer(
    "peer_timeout", 30, "In a group: seconds without a heartbeat after which a process "
    "counts as lost and the others stop (exit status 75).")
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Run folder for checkpoints, logs and the resolved config "
    "(default: runs/<config.name>). An existing run there is resumed.")


def main(argv):
  del argv  # parse_flags took every argument
  from jcnn import supervisor
  verbose = flags.FLAGS["verbosity"].present
  config = flags.FLAGS.config
  workdir = _WORKDIR.value or str(pathlib.Path("runs") / config.name)
  if supervisor.is_child():
    supervisor.become_child()
  elif _in_a_group():
    sys.exit(supervisor.supervise("train", sys.argv[1:], workdir, _PROCESS_ID.value, verbose))
  from jcnn import runtime  # after flag parsing, so --help stays fast
  runtime.quiet(verbose=verbose)
  runtime.configure(cpu_flags=config.xla_cpu_flags)  # before anything compiles
  from jcnn import checkpoint, parallel, runs
  from jcnn import training
  try:
    parallel.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value,
                        _JOIN_TIMEOUT.value, _PEER_TIMEOUT.value)
    if _STUDY.value or _SWEEP.value:
      _train_study(config, workdir)
      return
    results = training.train_and_evaluate(config, workdir)
  except (ValueError, OSError, checkpoint.CheckpointError, runs.RunInUse) as e:
    parallel.await_lost_peer(e, _PEER_TIMEOUT.value)
    _exit(2, f"error: {e}")
  except training.NonFiniteError as e:
    _exit(3, f"error: {e}")
  except training.Preempted as e:
    _exit(128 + e.signum, str(e))
  except KeyboardInterrupt:  # a second Ctrl-C while the first was being handled
    _exit(130, "interrupted")
  except Exception as e:  # in a group, a collective that failed because a peer died
    parallel.await_lost_peer(e, _PEER_TIMEOUT.value)
    raise
  if parallel.is_primary():
    print(json.dumps({"workdir": workdir, **results}))


def _in_a_group() -> bool:
  """Whether this process is one of a jax.distributed group (flags or a cluster)."""
  if any(f.value is not None for f in (_COORDINATOR, _NUM_PROCESSES, _PROCESS_ID)):
    return True
  from jcnn import parallel
  return parallel.cluster_detected()


def _train_study(config, workdir: str) -> None:
  """--study / --sweep: every planned run, one JSON line each."""
  from jcnn import parallel, studies, training
  if _STUDY.value and _SWEEP.value:
    raise ValueError("give --study or --sweep, not both")
  if _STUDY.value and not _WORKDIR.value:
    raise ValueError("--study needs --workdir (e.g. runs/<study name>)")
  plan = studies.load(_STUDY.value) if _STUDY.value else studies.from_sweeps(config, _SWEEP.value)
  try:
    seeds = [int(s) for s in _SEEDS.value]
  except ValueError:
    raise ValueError(f"--seeds takes integers, got {','.join(_SEEDS.value)}") from None
  for result in training.run_study(plan, workdir, _ONLY.value, seeds):
    if parallel.is_primary():
      print(json.dumps(result), flush=True)


def _exit(status: int, message: str):
  print(message, file=sys.stderr)
  sys.exit(status)


def parse_flags(argv: list[str]) -> list[str]:
  """app.run's flags_parser: absl's parsing, the config file and its --config.KEY
  overrides included, with every mistake one line, `error: ...`, and exit status 2."""
  argv = _underscored(argv)
  try:
    argv = _by_name(argv)
  except ValueError as e:
    _exit(2, f"error: {e}")
  try:
    # Defined here, not at import: ml_collections loads the config and looks up the
    # overrides in argv as the flag is defined, and a misspelt field raises there.
    config_flags.DEFINE_config_file("config", _DEFAULT_CONFIG, _CONFIG_HELP,
                                    lock_config=True, sys_argv=argv)
    rest = flags.FLAGS(argv)
    flags.FLAGS.config.name  # noqa: B018 (a file that failed to load raises on first use)
  except Exception as e:  # noqa: BLE001 (a config file may raise anything)
    _exit(2, f"error: {_flag_error(e, argv)}")
  except SystemExit as e:  # absl exits 1 after printing --help; asking is no failure
    sys.exit(0 if e.code == 1 and _HELP & set(argv[1:]) else e.code)
  if len(rest) > 1:
    _exit(2, f"error: unexpected arguments: {' '.join(rest[1:])}")
  return rest


_HELP = {"--help", "-help", "--helpshort", "-helpshort", "--helpfull", "-helpfull", "-?"}


def _underscored(argv: list[str]) -> list[str]:
  """`argv` with `--num-processes` spelt `--num_processes`, as `python -m eval` takes
  either spelling of its flags, and `-h` spelt `--helpshort`."""
  out = argv[:1]
  for i, arg in enumerate(argv[1:], 1):
    if arg == "--":
      return out + argv[i:]
    if arg == "-h":  # argparse's spelling, as `python -m eval -h`
      arg = "--helpshort"
    name, equals, value = arg.partition("=")
    if name.startswith("--") and name[2:].replace("-", "_") in flags.FLAGS:
      name = "--" + name[2:].replace("-", "_")
    out.append(name + equals + value)
  return out


def _by_name(argv: list[str]) -> list[str]:
  """`argv` with `--config NAME` and `--study NAME` (no folder, no .py) spelt as the shipped
  file's path, so both work from any directory; a file of one's own is left as given.

  Raises:
    ValueError: NAME is no shipped config or study (with the closest names).
  """
  out = argv[:1]
  args = iter(argv[1:])
  for arg in args:
    if arg == "--":
      return out + [arg, *args]
    kind = next((k for k in _SHIPPED if arg in (f"--{k}", f"-{k}")
                 or arg.startswith((f"--{k}=", f"-{k}="))), None)
    if kind is None:
      out.append(arg)
      continue
    flag, equals, value = arg.partition("=")
    if not equals:
      value = next(args, "")
    name, colon, extra = value.partition(":")  # ml_collections' FILE:ARGUMENT
    if name and "/" not in name and not name.endswith(".py") and not pathlib.Path(name).exists():
      path = _SHIPPED[kind] / f"{name}.py"
      if not path.is_file():
        close = difflib.get_close_matches(name, _shipped(kind), n=3)
        raise ValueError(f"--{kind}: no shipped {kind} named {name!r}"
                         + (f"; did you mean {' or '.join(close)}?" if close else "")
                         + f" (a file of your own is given by its path; "
                         f"`--help` lists the shipped ones)")
      value = str(path) + colon + extra
    out.append(f"{flag}={value}")
  return out


def _flag_error(e: Exception, argv: list[str]) -> str:
  """One line for what absl or ml_collections raised while parsing `argv`."""
  if isinstance(e, flags.UnrecognizedFlagError):
    close = difflib.get_close_matches(e.flagname, list(flags.FLAGS), n=1)
    return f"unknown flag --{e.flagname}" + (f"; did you mean --{close[0]}?" if close else "")
  if isinstance(e, flags.Error):  # a bad or missing value; --config.KEY before --config
    return _one_line(str(e)).removeprefix("flag ")
  unknown = _unknown_field(e, argv)
  if unknown:
    return unknown
  if isinstance(e, OSError) and e.errno is None:  # ml_collections: the file did not load
    return "--config: " + re.sub(r"^.*\[Errno \d+\] ", "", str(e).strip().splitlines()[-1])
  return f"cannot build the config: {type(e).__name__}: {_one_line(str(e))}"


def _unknown_field(e: Exception, argv: list[str]) -> str | None:
  """ml_collections' KeyError (in an AttributeError) for --config.KEY naming no field, as
  one line with its close match; None for any other error."""
  key_error = e.args[0] if isinstance(e, AttributeError) and e.args else e
  if not (isinstance(key_error, KeyError) and key_error.args
          and isinstance(key_error.args[0], str)):
    return None
  text = key_error.args[0]  # "'lerning_rate'\nDid you mean "learning_rate" instead of ..."
  field = text.splitlines()[0].strip("'\"")
  overrides = [a.partition("=")[0] for a in argv[1:] if re.match(r"--?(no)?config\.", a)]
  named = [o for o in overrides if o.split(".")[-1] == field]
  if not named:
    return None
  close = re.search(r'Did you mean "([^"]+)"', text)
  return (f"{named[0]}: unknown config field {field!r}"
          + (f"; did you mean {close[1]}?" if close else ""))


def _one_line(text: str) -> str:
  """`text` on one line: a traceback inside it is cut to its first and last lines."""
  lines = [line.strip() for line in text.splitlines() if line.strip()]
  if "Traceback (most recent call last):" in lines:
    lines = [lines[0], lines[-1]]
  return " ".join(lines)


def run() -> None:
  """The `jcnn-train` program (pyproject's console script)."""
  sys.modules["__main__"].__doc__ = __doc__  # absl's --help prints __main__'s docstring
  app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
  run()
