"""`prefetch`: compute the next batches in a thread while the accelerator runs this one."""
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_POLL_S = 0.1  # How often a blocked producer checks whether the consumer has gone.
_JOIN_S = 10.0  # How long closing waits for the producer to stop.


class _Done:
  pass


class _Failed:

  def __init__(self, error: BaseException):
    self.error = error


def prefetch(iterable: Iterable[T], size: int = 2) -> Iterator[T]:
  """Yields the items of `iterable`, produced up to `size` items ahead by a daemon thread.

  The thread starts at the first `next`. The producer's exception is re-raised here, at
  the item where it happened; closing (or dropping) this iterator stops the producer at
  its next item.
  """
  if size < 1:
    raise ValueError(f"prefetch size must be >= 1, got {size}")
  return _prefetch(iterable, size)


def _prefetch(iterable: Iterable[T], size: int) -> Iterator[T]:
  items: queue.Queue = queue.Queue(maxsize=size)
  stop = threading.Event()

  def put(item) -> bool:
    while not stop.is_set():
      try:
        items.put(item, timeout=_POLL_S)
        return True
      except queue.Full:
        pass
    return False

  def produce():
    try:
      for item in iterable:
        if not put(item):
          return
      put(_Done())
    except BaseException as e:  # pylint: disable=broad-except  # Handed to the consumer.
      put(_Failed(e))

  producer = threading.Thread(target=produce, daemon=True, name="jcnn-prefetch")
  producer.start()
  try:
    while True:
      item = items.get()
      if isinstance(item, _Done):
        return
      if isinstance(item, _Failed):
        raise item.error
      yield item
  finally:
    stop.set()
    # Let an item in the making (a copy to the device, say) finish before the caller
    # moves on, so the thread never runs into interpreter shutdown.
    producer.join(timeout=_JOIN_S)
