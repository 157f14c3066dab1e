"""jcnn.pretrained.readers: PyTorch archives read without torch and without running
their pickle, safetensors, Keras files; every bad file refused in one line."""
import os
import pathlib
import pickle
import struct
import zipfile

import ml_dtypes
import numpy as np
import pytest

from jcnn.pretrained import readers
from tests import pretrained_sources


def _int(n: int) -> bytes:
  return b"J" + struct.pack("<i", n)


def _text(s: str) -> bytes:
  return b"X" + struct.pack("<I", len(s.encode())) + s.encode()


def _ints(values) -> bytes:
  return b"(" + b"".join(_int(v) for v in values) + b"t"


def write_torch_archive(path: pathlib.Path, tensors: dict, storages: dict[str, bytes]):
  """A torch.save archive written by hand, as PyTorch writes it (protocol 2 opcodes):
  `tensors` {name: (storage key, dtype name, storage numel, offset, size, stride)}."""
  body = b"\x80\x02ccollections\nOrderedDict\n)R("
  for name, (key, storage, numel, offset, size, stride) in tensors.items():
    persistent = (b"(" + _text("storage") + f"ctorch\n{storage}\n".encode() + _text(key)
                  + _text("cpu") + _int(numel) + b"tQ")
    body += (_text(name) + b"ctorch._utils\n_rebuild_tensor_v2\n(" + persistent + _int(offset)
             + _ints(size) + _ints(stride) + b"\x89ccollections\nOrderedDict\n)RtR")
  body += b"u."
  with zipfile.ZipFile(path, "w") as archive:
    archive.writestr("archive/data.pkl", body)
    archive.writestr("archive/byteorder", "little")
    for key, data in storages.items():
      archive.writestr(f"archive/data/{key}", data)
  return path


def test_a_hand_written_archive_reads_without_torch_strided_views_included(tmp_path):
  storage = np.arange(12, dtype=np.float32)
  path = write_torch_archive(tmp_path / "w.pth", {
      "full": ("0", "FloatStorage", 12, 0, (3, 4), (4, 1)),
      "transposed": ("0", "FloatStorage", 12, 0, (4, 3), (1, 4)),
      "row": ("0", "FloatStorage", 12, 4, (4,), (1,)),
      "steps": ("1", "LongStorage", 1, 0, (), ()),
  }, {"0": storage.tobytes(), "1": np.int64(7).tobytes()})
  got = readers.read(path).tensors
  np.testing.assert_array_equal(got["full"], storage.reshape(3, 4))
  np.testing.assert_array_equal(got["transposed"], storage.reshape(3, 4).T)
  np.testing.assert_array_equal(got["row"], storage[4:8])
  assert got["steps"].dtype == np.int64 and got["steps"] == 7


class _Payload:
  def __init__(self, marker: pathlib.Path):
    self.marker = marker

  def __reduce__(self):
    return os.system, (f"touch {self.marker}",)


def test_a_pickle_that_would_run_a_command_is_refused_and_nothing_runs(tmp_path):
  marker = tmp_path / "ran"
  path = tmp_path / "evil.pth"
  with zipfile.ZipFile(path, "w") as archive:
    archive.writestr("archive/data.pkl", pickle.dumps({"w": _Payload(marker)}, protocol=2))
  assert not marker.exists()
  with pytest.raises(readers.WeightFileError) as e:
    readers.read(path)
  message = str(e.value)
  assert "\n" not in message and str(path) in message
  assert f"asks for {os.system.__module__}.system" in message and "refused" in message
  assert not marker.exists()


@pytest.mark.parametrize("case, expected", [
    ("past_storage", "reads past the end of storage"),
    ("short_storage", "holds 8 bytes, its header says 12 elements"),
    ("truncated", "not a torch.save zip archive, or truncated"),
    ("legacy", "legacy (before PyTorch 1.6)"),
    ("no_tensors", "holds no state dict of tensors"),
    ("bomb", "a decompression bomb"),
    ("suffix", "unknown weight file type"),
])
def test_a_bad_torch_file_is_refused_in_one_line_naming_it(tmp_path, case, expected):
  path = tmp_path / "w.pth"
  storage = np.zeros(12, np.float32).tobytes()
  if case == "past_storage":
    write_torch_archive(path, {"w": ("0", "FloatStorage", 12, 4, (3, 4), (4, 1))},
                        {"0": storage})
  elif case == "short_storage":
    write_torch_archive(path, {"w": ("0", "FloatStorage", 12, 0, (3, 4), (4, 1))},
                        {"0": storage[:8]})
  elif case == "truncated":
    write_torch_archive(path, {"w": ("0", "FloatStorage", 12, 0, (12,), (1,))},
                        {"0": storage})
    path.write_bytes(path.read_bytes()[:100])
  elif case == "legacy":
    path.write_bytes(pickle.dumps({"w": [1.0]}, protocol=2))
  elif case == "no_tensors":
    with zipfile.ZipFile(path, "w") as archive:
      archive.writestr("archive/data.pkl", pickle.dumps({"epoch": 3}, protocol=2))
  elif case == "bomb":
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
      archive.writestr("archive/data.pkl", b"\0" * (1 << 24))
  elif case == "suffix":
    path = tmp_path / "w.npz"
    path.write_bytes(b"")
  with pytest.raises(readers.WeightFileError) as e:
    readers.read(path)
  assert expected in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)


def test_torch_save_files_read_as_torch_reads_them(tmp_path):
  torch = pretrained_sources.require_torch()
  base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
  state = {"conv.weight": torch.randn(8, 3, 3, 3), "half": torch.randn(5).half(),
           "bf16": torch.randn(5).bfloat16(), "view": base[1:3, ::2], "t": base.t(),
           "bn.num_batches_tracked": torch.tensor(11)}
  path = tmp_path / "state.pth"
  torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, path)
  got = readers.read(path).tensors
  assert set(got) == set(state)  # the wrapper and DataParallel's prefix are taken off
  for name, tensor in state.items():
    expected = tensor.float().numpy() if tensor.dtype == torch.bfloat16 else tensor.numpy()
    np.testing.assert_array_equal(np.asarray(got[name], expected.dtype), expected)
  assert got["bf16"].dtype == ml_dtypes.bfloat16


def test_a_pickled_model_object_is_refused_naming_its_class(tmp_path):
  torchvision = pretrained_sources.import_torchvision()
  import torch
  path = tmp_path / "whole_model.pth"
  torch.save(torchvision.models.resnet18(), path)
  with pytest.raises(readers.WeightFileError, match="asks for torchvision.models.resnet.ResNet"):
    readers.read(path)


def test_safetensors_read_with_bfloat16_and_a_truncated_file_is_refused(tmp_path):
  import jax.numpy as jnp
  from safetensors.flax import save_file
  path = tmp_path / "w.safetensors"
  values = {"a": np.arange(6, dtype=np.float32).reshape(2, 3),
            "b": np.arange(4).astype(ml_dtypes.bfloat16)}
  save_file({k: jnp.asarray(v) for k, v in values.items()}, str(path))
  got = readers.read(path).tensors
  for name, value in values.items():
    np.testing.assert_array_equal(got[name], value)
  path.write_bytes(path.read_bytes()[:-5])
  with pytest.raises(readers.WeightFileError, match="not a readable safetensors file"):
    readers.read(path)


def test_keras_files_in_every_layout_give_the_same_weights_by_layer_name(tmp_path):
  import keras
  inputs = keras.Input((8, 8, 3))
  x = keras.layers.BatchNormalization(name="norm", epsilon=1e-3)(
      keras.layers.Conv2D(4, 3, name="conv")(inputs))
  model = keras.Model(inputs, keras.layers.Dense(2, name="fc")(keras.layers.Flatten()(x)))
  expected = {f"{layer.name}/{i}": w for layer in model.layers
              for i, w in enumerate(layer.get_weights())}
  for name in ("m.keras", "m.h5", "m.weights.h5"):
    path = tmp_path / name
    model.save_weights(path) if name.endswith(".weights.h5") else model.save(path)
    weights = readers.read(path)
    assert weights.tensors.keys() == expected.keys(), name
    for key, value in expected.items():
      np.testing.assert_array_equal(weights.tensors[key], value)
    if name != "m.weights.h5":  # a whole model carries its config
      assert weights.layers["norm"]["class_name"] == "BatchNormalization"
      assert weights.layers["norm"]["config"]["epsilon"] == 1e-3
  truncated = tmp_path / "cut.keras"
  truncated.write_bytes((tmp_path / "m.keras").read_bytes()[:200])
  with pytest.raises(readers.WeightFileError, match="cut.keras: not a .keras zip archive"):
    readers.read(truncated)
