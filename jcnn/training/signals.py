"""Preemption: SIGTERM or SIGINT saves a checkpoint at the current step, then stops."""
import signal
import threading
import time

import jax

from jcnn import parallel


class Preempted(Exception):
  """Training stopped on a signal after checkpointing; `signum` names it."""

  def __init__(self, signum: int, step: int):
    super().__init__(f"stopped by {signal.Signals(signum).name} at step {step}; the "
                     f"checkpoint is saved: run the same command again to resume")
    self.signum = signum


class StopSignals:
  """Records SIGTERM / SIGINT instead of dying, so the loop can checkpoint first.

  A second signal while the first is being handled stops at once (KeyboardInterrupt),
  except the same signal within a second: a scheduler that signals every process of a
  job reaches a supervised trainer both directly and through its supervisor.
  Outside the main thread (a notebook's worker, a test thread) nothing is installed.
  """

  def __init__(self):
    self.signum = None
    self._received_at = None
    self._previous = {}

  def _handle(self, signum, frame):
    if self.signum is not None:
      if signum == self.signum and time.monotonic() - self._received_at < 1.0:
        return
      raise KeyboardInterrupt
    self.signum, self._received_at = signum, time.monotonic()

  def requested(self, agree: bool) -> bool:
    """Whether to stop after this step.

    With several processes all must stop at the same step, so a signal is acted on
    only at steps where they `agree` (log and checkpoint steps: one all-gather), by
    every process, whichever received it.
    """
    if jax.process_count() == 1:
      return self.signum is not None
    if not agree or not parallel.any_process(self.signum is not None):
      return False
    self.signum = self.signum or signal.SIGTERM
    return True

  def __enter__(self) -> "StopSignals":
    if threading.current_thread() is threading.main_thread():
      for signum in (signal.SIGTERM, signal.SIGINT):
        self._previous[signum] = signal.signal(signum, self._handle)
    return self

  def __exit__(self, *exc) -> None:
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
