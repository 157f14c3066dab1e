"""jcnn.runtime: the XLA:CPU flags change speed, not results; the compile cache works."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from jcnn import runtime
from tests.helpers import REPO

# Convolutions of every kind the zoo uses, with their input and kernel gradients, and a
# ResNet-8's loss and parameter gradients (BatchNorm, identity and option-A shortcuts:
# ResNet-20's blocks, fewer of them, so it compiles in a third of the time), in a fresh
# process.
_PROGRAM = r"""
import json, sys
import numpy as np
from jcnn import runtime
if sys.argv[1] == "1":
  runtime.configure(cpu_flags=True, compile_cache=None)
import jax, jax.numpy as jnp, optax
from jax import lax
from jcnn.models import resnet
out = {}
# NumPy draws the inputs: jax.random would compile a generator per shape, 20 s in all.
rng = np.random.default_rng(0)
cases = [((8, 32, 32, 3), (3, 3, 3, 16), 1, 1, 1), ((8, 32, 32, 16), (3, 3, 16, 32), 2, 1, 1),
         ((8, 16, 16, 32), (1, 1, 32, 64), 2, 1, 1), ((8, 28, 28, 12), (5, 5, 6, 8), 1, 2, 1),
         ((8, 16, 16, 8), (3, 3, 1, 8), 1, 8, 1), ((4, 20, 20, 6), (3, 3, 6, 6), 1, 1, 2)]
for i, (xs, ws, stride, groups, dil) in enumerate(cases):
  x, w = rng.standard_normal(xs, np.float32), rng.standard_normal(ws, np.float32)
  conv = lambda x, w: lax.conv_general_dilated(
      x, w, (stride, stride), "SAME", rhs_dilation=(dil, dil),
      dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=groups)
  y, vjp = jax.vjp(jax.jit(conv), x, w)
  dx, dw = vjp(rng.standard_normal(y.shape, np.float32))
  out[f"conv{i}"] = [np.asarray(a).tolist() for a in (y, dx, dw)]
model = resnet.cifar_resnet(8, num_classes=10)
variables = jax.jit(lambda x: model.init(jax.random.PRNGKey(0), x, train=False))(
    jnp.zeros((1, 32, 32, 3)))
x, labels = rng.standard_normal((16, 32, 32, 3), np.float32), jnp.arange(16) % 10
def loss(params):
  logits, _ = model.apply({**variables, "params": params}, x, train=True,
                          mutable=["batch_stats"])
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
value, grads = jax.jit(jax.value_and_grad(loss))(variables["params"])
out["loss"] = float(value)
out["grads"] = [np.asarray(g).ravel().tolist() for g in jax.tree.leaves(grads)]
out["flags"] = __import__("os").environ.get("XLA_FLAGS", "")
print(json.dumps(out))
"""


def _start(with_flags: bool) -> subprocess.Popen:
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  return subprocess.Popen([sys.executable, "-c", _PROGRAM, "1" if with_flags else "0"],
                          cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)


def _result(proc: subprocess.Popen) -> dict:
  out, err = proc.communicate(timeout=600)
  assert proc.returncode == 0, err[-3000:]
  return json.loads(out.splitlines()[-1])


def test_cpu_flags_equal_the_default_path_forward_and_gradients():
  # Both at once: compiling is single-threaded, so the two overlap on two cores.
  fast, default = map(_result, [_start(True), _start(False)])
  assert "ynn_fusion_type" in fast["flags"] and "ynn" not in default["flags"]
  for name in (k for k in default if k.startswith("conv")):
    for got, want in zip(fast[name], default[name]):
      got, want = np.asarray(got), np.asarray(want)
      np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
  # Through 7 BatchNorms the gradients are sums of 16k cancelling terms, added in
  # another order by YNNPACK: single entries near zero can differ by 30 %, so each
  # gradient tensor is compared as a whole (relative L2 error; seen up to 1.03e-3).
  np.testing.assert_allclose(fast["loss"], default["loss"], rtol=1e-5)
  for got, want in zip(fast["grads"], default["grads"]):
    got, want = np.asarray(got), np.asarray(want)
    assert np.linalg.norm(got - want) <= 5e-3 * np.linalg.norm(want)


@pytest.mark.parametrize("cpu_flags, env, applied", [
    (False, None, False), (True, None, True), (True, "0", False), (False, "1", True)])
def test_flags_go_on_as_asked_unless_the_environment_says_otherwise(
    cpu_flags, env, applied, monkeypatch):
  from jax._src import xla_bridge
  monkeypatch.setattr(xla_bridge, "backends_are_initialized", lambda: False)
  monkeypatch.setenv("XLA_FLAGS", "--xla_foo=1")
  if env is None:
    monkeypatch.delenv("JCNN_XLA_CPU_FLAGS", raising=False)
  else:
    monkeypatch.setenv("JCNN_XLA_CPU_FLAGS", env)
  assert runtime.configure(cpu_flags=cpu_flags, compile_cache=None,
                           keep_memory=False) is applied
  assert ("ynn_fusion_type" in os.environ["XLA_FLAGS"]) is applied
  assert os.environ["XLA_FLAGS"].startswith("--xla_foo=1")


def test_add_xla_flags_keeps_what_the_user_set():
  env = {"XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type= --xla_foo=1"}
  flags = runtime.add_xla_flags(runtime.CPU_XLA_FLAGS + ("--xla_bar=2",), env)
  assert flags.split() == ["--xla_cpu_experimental_ynn_fusion_type=", "--xla_foo=1",
                           "--xla_bar=2"]
  assert runtime.add_xla_flags(("--a=1",), {}) == "--a=1"


def test_second_start_loads_programs_from_the_cache(tmp_path):
  program = ("import sys, time; from jcnn import runtime; runtime.configure(compile_cache="
             "sys.argv[1]); import jax, jax.numpy as jnp; from jcnn import models; "
             "m = models.create('resnet20', num_classes=10); x = jnp.zeros((2, 32, 32, 3)); "
             "t = time.perf_counter(); jax.jit(lambda x: m.init(jax.random.PRNGKey(0), x, "
             "train=False)).lower(x).compile(); print(time.perf_counter() - t)")
  times = []
  for _ in range(2):
    proc = subprocess.run([sys.executable, "-c", program, str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    times.append(float(proc.stdout.split()[-1]))
  assert list(tmp_path.iterdir()), "nothing was written to the cache"
  assert times[1] < 0.5 * times[0], times


_FAULTS_PROGRAM = r"""
import ctypes, resource, sys, threading
from jcnn import runtime
kept = runtime.keep_freed_memory() if sys.argv[1] == "1" else False
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
def write_and_free(size=300 * 2**20):
  block = libc.malloc(size)
  ctypes.memset(block, 1, size)
  libc.free(block)
def faults_for_a_fresh_block():
  # 300 MB written and freed by a new thread, as XLA:CPU does with a step's temporaries.
  before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  worker = threading.Thread(target=write_and_free)
  worker.start(); worker.join()
  return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults_for_a_fresh_block()
print(kept, faults_for_a_fresh_block())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_memory_is_reused_without_page_faults():
  faults = {}
  for keep in ("0", "1"):
    proc = subprocess.run([sys.executable, "-c", _FAULTS_PROGRAM, keep], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    kept, faults[keep] = proc.stdout.split()
    assert kept == str(keep == "1")
  # 300 MB is 76,800 pages of 4 KiB: faulted in again each time unless the memory is kept.
  assert int(faults["0"]) > 70_000
  assert int(faults["1"]) < 5_000


def test_each_cpu_device_gets_its_share_of_the_cores(monkeypatch):
  monkeypatch.setattr(runtime.os, "cpu_count", lambda: 8)
  env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
  assert runtime.share_threads_between_devices(env) == 2 and env["OMP_NUM_THREADS"] == "2"
  env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=4", "OMP_NUM_THREADS": "3"}
  assert runtime.share_threads_between_devices(env) is None and env["OMP_NUM_THREADS"] == "3"
  env = {"XLA_FLAGS": "--xla_cpu_use_thunk_runtime=true"}
  assert runtime.share_threads_between_devices(env) is None and "OMP_NUM_THREADS" not in env
  env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=16"}
  assert runtime.share_threads_between_devices(env) == 1
