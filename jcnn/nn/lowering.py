"""Whether jcnn.nn may run ops through its CPU fast paths, or must keep plain XLA ops.

`conv2d` runs thin convolutions as banded GEMMs and, with `batch_norm`, hands float32
work to oneDNN on the CPU. Analyses that read a jaxpr (receptive fields, FLOPs) need
the plain ops instead — `conv_general_dilated` and the normalisation's arithmetic — so
they trace inside `xla_ops()`.
"""
import contextlib
import contextvars

_XLA_ONLY = contextvars.ContextVar("jcnn_xla_ops_only", default=False)


@contextlib.contextmanager
def xla_ops():
  """Within it, jcnn.nn takes no fast path: every convolution stays `conv_general_dilated`."""
  token = _XLA_ONLY.set(True)
  try:
    yield
  finally:
    _XLA_ONLY.reset(token)


def xla_ops_only() -> bool:
  """Whether the caller is inside `xla_ops()`."""
  return _XLA_ONLY.get()
