"""StopSignals: a signal asks for a checkpointed stop; a second, different one stops now."""
import os
import signal

import pytest

from jcnn.training.signals import StopSignals


def test_the_same_signal_twice_at_once_is_one_request():
  """A scheduler signalling every process of a job reaches a supervised trainer twice."""
  with StopSignals() as stop:
    os.kill(os.getpid(), signal.SIGTERM)
    os.kill(os.getpid(), signal.SIGTERM)
    assert stop.requested(agree=True) and stop.signum == signal.SIGTERM


def test_another_signal_while_stopping_stops_at_once():
  with StopSignals() as stop:
    os.kill(os.getpid(), signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
      os.kill(os.getpid(), signal.SIGINT)
    assert stop.signum == signal.SIGTERM
  assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
