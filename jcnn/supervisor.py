"""One process of a group, run under a supervisor: a lost peer is one line, not a crash.

When a process of a jax.distributed group dies, JAX's coordination service makes every
other process abort in C++ (a check failure, a stack trace, status 134): at once when
the coordinator (process 0) died, after the heartbeat timeout when another one did.
No Python runs first. So `python -m train` in a group trains in a child process and
stays outside it: the child's native log (file descriptor 2: C++, absl, faulthandler)
comes to the parent, which keeps it (shown as it comes with --verbosity) and forwards
SIGTERM and SIGINT. When the child dies that way, the parent prints one line naming
the lost process(es), the last good checkpoint and how to resume, and exits with
LOST_PEER. The child's Python output (progress bar, warnings, errors) goes to the
terminal directly.
"""
import collections
import ctypes
import os
import pathlib
import re
import signal
import subprocess
import sys

LOST_PEER = 75  # sysexits' EX_TEMPFAIL: try again; a scheduler may requeue on it
_CHILD = "JCNN_SUPERVISED_NATIVE_LOG_FD"
_FATAL = "the JAX distributed service detected fatal errors"
_LOG_LINES = 400


def is_child() -> bool:
  """Whether this process is a supervised child (it must not supervise again)."""
  return _CHILD in os.environ


def become_child() -> None:
  """In the child: native output (fd 2) goes to the parent, Python's to the terminal,
  and the child dies with its parent (a SIGKILLed supervisor leaves no trainer behind)."""
  log_fd = int(os.environ.pop(_CHILD))
  terminal = os.dup(2)
  os.dup2(log_fd, 2)
  os.close(log_fd)
  sys.stderr = os.fdopen(terminal, "w", buffering=1, errors="backslashreplace")
  if sys.platform.startswith("linux"):
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the parent died before prctl took effect
      os._exit(LOST_PEER)


def supervise(program: str, argv: list[str], workdir: str | os.PathLike, process_id: int | None,
              verbose: bool) -> int:
  """Runs `python -m <program> argv` as a supervised child; returns the status to exit with.

  Args:
    workdir: the run folder, to name the last good checkpoint.
    process_id: this process's rank, when given on the command line.
    verbose: show the child's native log as it comes (--verbosity).
  """
  read_fd, write_fd = os.pipe()
  # A session of its own: a terminal's Ctrl-C reaches the child once, through here.
  child = subprocess.Popen([sys.executable, "-m", program, *argv], pass_fds=(write_fd,),
                           env={**os.environ, _CHILD: str(write_fd)}, start_new_session=True)
  os.close(write_fd)
  forward = lambda signum, frame: child.send_signal(signum)
  previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
  log = collections.deque(maxlen=_LOG_LINES)
  try:
    with os.fdopen(read_fd, "rb") as native:
      for line in native:  # ends when every copy of the child's fd 2 is closed
        if verbose:
          sys.stderr.buffer.write(line)
          sys.stderr.flush()
        log.append(line.decode(errors="replace"))
    status = child.wait()
  finally:
    for signum, handler in previous.items():
      signal.signal(signum, handler)
  if status >= 0:
    return status
  text = "".join(log)
  if _FATAL not in text:
    if not verbose:
      sys.stderr.write(text[-4000:])
    print(f"\nerror: the training process died of {signal.Signals(-status).name}",
          file=sys.stderr)
    return 128 - status
  # On a line of its own: the dead child's progress bar has no newline.
  print(f"\nerror: {describe_loss(text, process_id)}; {resume_hint(workdir)}",
        file=sys.stderr)
  return LOST_PEER


def lost_processes(native_log: str) -> list[int]:
  """The processes JAX's coordination service reports lost in `native_log`, ascending."""
  lost = {int(m) for m in re.findall(r"Task (\d+) heartbeat timeout", native_log)}
  for block in re.findall(r"tasks are unhealthy \(stopped sending heartbeats\):\n((?:\d+\n)+)",
                          native_log):
    lost.update(int(n) for n in block.split())
  return sorted(lost)


def describe_loss(native_log: str, process_id: int | None) -> str:
  """`lost process 1 of the group (...)`, from the native log of a fatal abort."""
  lost = lost_processes(native_log)
  if lost:
    names = ", ".join(str(p) for p in lost)
    return (f"lost process{'es' if len(lost) > 1 else ''} {names} of the group (no "
            f"heartbeat within --peer_timeout)")
  if process_id != 0:
    return "lost process 0 of the group, the coordinator (its connection closed)"
  return "lost a process of the group (the coordination service failed)"


def resume_hint(workdir: str | os.PathLike) -> str:
  """Names the newest finished checkpoint in `workdir` and how to go on from it."""
  from jcnn import runs  # only now: the supervisor itself stays light (no JAX, no orbax)
  folder = pathlib.Path(workdir) / runs.CHECKPOINTS_DIR
  steps = sorted(int(p.name) for p in folder.glob("*") if p.name.isdigit()) \
      if folder.is_dir() else []
  if not steps:
    return "no checkpoint was saved yet: start every process again with the same command"
  return (f"the last good checkpoint is step {steps[-1]} in {folder}: start every "
          f"process again with the same command to resume from it")
