"""Weight files read without running any code they carry: `read(path) -> Weights`.

- PyTorch (`.pth`, `.pt`, `.bin`, `.pth.tar`: `torch.save`'s zip archive) through a
  restricted unpickler that builds dicts, lists and tensors and nothing else: any other
  global the pickle names (`os.system`, a model class) is refused before anything runs.
  torch itself is not needed.
- safetensors (`.safetensors`, timm's and Hugging Face's) through the `safetensors`
  package: a JSON header and raw bytes, no code at all.
- Keras (`.keras`, `.h5`, `.weights.h5`) through h5py: the weights and, where the file
  has it, the model's config as JSON; the model is never deserialised, so no Lambda
  layer or custom object is ever called.

Every failure is a `WeightFileError` (a ValueError) of one line naming the file: not a
weight file, truncated, a pickle asking for code, a tensor pointing outside its storage,
a compressed member or dataset declaring far more bytes than the file holds.
"""
import collections
import dataclasses
import io
import json
import math
import pathlib
import pickle
import zipfile

import ml_dtypes
import numpy as np

# A member or dataset may declare at most this many times its stored bytes (weights do
# not compress; a bomb declares gigabytes of zeros in a few bytes).
_MAX_EXPANSION = 16
_TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".tar", ".ckpt")
_KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")

# torch's storage classes (pickled by name) and their element types.
_STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "BFloat16Storage": ml_dtypes.bfloat16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
# Wrappers of the state dicts training scripts save (timm's, Lightning's, torchvision's
# references): the first one present holding tensors is read.
_STATE_DICT_KEYS = ("state_dict_ema", "state_dict", "model_ema", "model", "module")


class WeightFileError(ValueError):
  """A weight file that cannot or must not be read; the message is one line."""


@dataclasses.dataclass(frozen=True)
class Weights:
  """The tensors of a weight file, and what it says of its model.

  Attributes:
    path: the file.
    tensors: {name: array} as the file names them (Keras: "<layer>/<i>", the layer's
      i-th weight in Keras' order: kernel, bias; gamma, beta, moving mean, variance).
    layers: Keras files with a model config: {layer name: {"class_name", "config"}};
      empty otherwise.
  """
  path: pathlib.Path
  tensors: dict[str, np.ndarray]
  layers: dict[str, dict] = dataclasses.field(default_factory=dict)


def read(path: str | pathlib.Path) -> Weights:
  """Reads a weight file by its suffix (PyTorch, safetensors or Keras)."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise WeightFileError(f"{path} is not a file")
  name = path.name.lower()
  if name.endswith(".safetensors"):
    return read_safetensors(path)
  if name.endswith(_KERAS_SUFFIXES):
    return read_keras(path)
  if name.endswith(_TORCH_SUFFIXES):
    return read_torch(path)
  raise WeightFileError(f"{path}: unknown weight file type; expected one of "
                        f"{', '.join(('.safetensors',) + _TORCH_SUFFIXES + _KERAS_SUFFIXES)}")


# PyTorch.
class _Storage:
  """A persistent storage reference: its element type and the bytes' member name."""

  def __init__(self, dtype, key: str, numel: int):
    self.dtype, self.key, self.numel = dtype, key, numel


def _rebuild_tensor(storage, offset, size, stride, *_):
  return ("tensor", storage, offset, tuple(size), tuple(stride))


def _rebuild_parameter(data, *_):
  return data


class _StorageType:
  def __init__(self, dtype):
    self.dtype = dtype


class _Unpickler(pickle.Unpickler):
  """Builds containers and tensor placeholders; refuses every other global."""

  _ALLOWED = {
      ("collections", "OrderedDict"): collections.OrderedDict,
      ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
      ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
      ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
  }

  def __init__(self, data: bytes, path: pathlib.Path):
    super().__init__(io.BytesIO(data))
    self.path = path

  def find_class(self, module: str, name: str):
    if (module, name) in self._ALLOWED:
      return self._ALLOWED[module, name]
    if module == "torch" and name in _STORAGE_DTYPES:
      return _StorageType(_STORAGE_DTYPES[name])
    raise WeightFileError(
        f"{self.path}: its pickle asks for {module}.{name}; refused (only tensors and "
        f"containers are read, nothing is executed): save a model.state_dict() instead")

  def persistent_load(self, pid):
    if (not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != "storage"
        or not isinstance(pid[1], _StorageType) or not isinstance(pid[4], int)):
      raise WeightFileError(f"{self.path}: unexpected persistent reference {pid!r:.80}")
    return _Storage(pid[1].dtype, str(pid[2]), pid[4])


def read_torch(path: str | pathlib.Path) -> Weights:
  """The state dict of a `torch.save` zip archive, as numpy arrays, without torch."""
  path = pathlib.Path(path)
  try:
    with zipfile.ZipFile(path) as archive:
      pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
      if len(pickles) != 1:
        raise WeightFileError(f"{path}: not a torch.save archive ({len(pickles)} data.pkl "
                              "members; TorchScript and other archives are not read)")
      prefix = pickles[0][:-len("data.pkl")]
      obj = _Unpickler(_member(archive, pickles[0], path), path).load()
      order = ">" if _member(archive, prefix + "byteorder", path, optional=True) == b"big" else "<"
      tensors = _state_dict(obj, path)
      return Weights(path, {k: _tensor(archive, prefix, v, order, path)
                            for k, v in tensors.items()})
  except zipfile.BadZipFile:
    with open(path, "rb") as f:
      legacy = f.read(2) == b"\x80\x02"
    why = ("a legacy (before PyTorch 1.6) torch.save file: load and re-save it with torch "
           "1.6 or newer" if legacy else "not a torch.save zip archive, or truncated")
    raise WeightFileError(f"{path}: {why}") from None
  except (pickle.UnpicklingError, EOFError, TypeError, AttributeError, IndexError,
          KeyError) as e:
    raise WeightFileError(f"{path}: unreadable pickle ({type(e).__name__}: "
                          f"{str(e)[:120]})") from None


def _member(archive: zipfile.ZipFile, name: str, path: pathlib.Path, *,
            optional: bool = False) -> bytes | None:
  """A member's bytes, refused when it declares far more than it stores."""
  try:
    info = archive.getinfo(name)
  except KeyError:
    if optional:
      return None
    raise WeightFileError(f"{path}: member {name} is missing (truncated archive?)") from None
  if info.file_size > _MAX_EXPANSION * max(info.compress_size, 1024):
    raise WeightFileError(f"{path}: member {name} declares {info.file_size:,} bytes in "
                          f"{info.compress_size:,} (a decompression bomb?)")
  try:
    return archive.read(info)
  except (zipfile.BadZipFile, EOFError, OSError) as e:
    raise WeightFileError(f"{path}: member {name} is unreadable ({e})") from None


def _state_dict(obj, path: pathlib.Path) -> dict:
  """The {name: tensor placeholder} inside what the pickle built."""
  is_tensors = lambda d: isinstance(d, dict) and d and all(
      isinstance(v, tuple) and v[:1] == ("tensor",) for v in d.values())
  if isinstance(obj, dict):
    for key in _STATE_DICT_KEYS:
      if is_tensors(obj.get(key)):
        obj = obj[key]
        break
  if not is_tensors(obj):
    raise WeightFileError(f"{path}: holds no state dict of tensors (found "
                          f"{type(obj).__name__}); save model.state_dict()")
  keys = [str(k) for k in obj]
  strip = "module." if all(k.startswith("module.") for k in keys) else ""
  return {str(k)[len(strip):]: v for k, v in obj.items()}


def _tensor(archive, prefix: str, placeholder: tuple, order: str,
            path: pathlib.Path) -> np.ndarray:
  _, storage, offset, size, stride = placeholder
  name = f"{prefix}data/{storage.key}"
  dtype = np.dtype(storage.dtype).newbyteorder(order)
  raw = _member(archive, name, path)
  if len(raw) != storage.numel * dtype.itemsize:
    raise WeightFileError(f"{path}: storage {name} holds {len(raw):,} bytes, its header "
                          f"says {storage.numel:,} elements of {dtype.itemsize}")
  ints = (offset, *size, *stride)
  if (not all(isinstance(i, int) and i >= 0 for i in ints) or len(size) != len(stride)):
    raise WeightFileError(f"{path}: a tensor of storage {name} has a bad layout "
                          f"(offset {offset}, size {size}, stride {stride})")
  flat = np.frombuffer(raw, dtype)
  if 0 in size:
    return np.zeros(size, dtype.newbyteorder("="))
  last = offset + sum((n - 1) * s for n, s in zip(size, stride))
  if last >= storage.numel:
    raise WeightFileError(f"{path}: a tensor of size {size} reads past the end of "
                          f"storage {name}")
  if stride == _contiguous_strides(size) and order == "<":
    return flat[offset:offset + math.prod(size)].reshape(size)  # read-only, no copy
  view = np.lib.stride_tricks.as_strided(flat[offset:], size,
                                         [s * dtype.itemsize for s in stride])
  return np.array(view, dtype.newbyteorder("="))


def _contiguous_strides(size: tuple[int, ...]) -> tuple[int, ...]:
  """Row-major strides, in elements, of an array of shape `size`."""
  strides, step = [], 1
  for n in reversed(size):
    strides.append(step)
    step *= n
  return tuple(reversed(strides))


# safetensors.
def read_safetensors(path: str | pathlib.Path) -> Weights:
  """The tensors of a `.safetensors` file (bfloat16 included) as numpy arrays."""
  from safetensors import SafetensorError, safe_open
  path = pathlib.Path(path)
  try:
    # The "flax" framework reads bfloat16 too (numpy has no such dtype).
    with safe_open(str(path), framework="flax") as f:
      return Weights(path, {k: np.asarray(f.get_tensor(k)) for k in f.keys()})
  except (SafetensorError, OSError, ValueError) as e:
    raise WeightFileError(f"{path}: not a readable safetensors file "
                          f"({str(e).splitlines()[0][:160] if str(e) else type(e).__name__})"
                          ) from None


# Keras.
def read_keras(path: str | pathlib.Path) -> Weights:
  """The weights of a Keras file, by layer name, and its model config where it has one.

  `.keras` is a zip of config.json and model.weights.h5 (Keras 3); `.h5` is either a
  whole model saved by `model.save` (weights under "model_weights", config in an
  attribute) or weights alone (`save_weights`, and the files keras.applications
  downloads), in Keras 3's layout (layers/<class>/vars/<i>, the layer's name in an
  attribute) or the older one (one group per layer name, "weight_names" in order).
  """
  import h5py
  path = pathlib.Path(path)
  config = None
  try:
    if path.name.lower().endswith(".keras"):
      with zipfile.ZipFile(path) as archive:
        config = json.loads(_member(archive, "config.json", path))
        h5 = h5py.File(io.BytesIO(_member(archive, "model.weights.h5", path)), "r")
    else:
      h5 = h5py.File(path, "r")
    with h5:
      if "model_config" in h5.attrs:
        config = json.loads(h5.attrs["model_config"])
      tensors = _keras_tensors(h5, path)
  except zipfile.BadZipFile:
    raise WeightFileError(f"{path}: not a .keras zip archive, or truncated") from None
  except (OSError, KeyError, json.JSONDecodeError, RecursionError) as e:
    raise WeightFileError(f"{path}: not a readable Keras file ({type(e).__name__}: "
                          f"{str(e).splitlines()[0][:120] if str(e) else ''})") from None
  return Weights(path, tensors, _keras_layers(config, path))


def _keras_tensors(h5, path: pathlib.Path) -> dict[str, np.ndarray]:
  found = {}
  if "layers" in h5 and "layer_names" not in h5.attrs:  # Keras 3
    for group in h5["layers"].values():
      if "layers" in group:
        raise WeightFileError(f"{path}: layer {group.name} is a nested model; save the "
                              "network as one functional model")
      variables = group.get("vars")
      if variables is None:
        continue
      name = _strings([variables.attrs.get("name", group.name.rsplit("/", 1)[-1])])[0]
      for index in sorted(variables, key=int):
        found[f"{name}/{index}"] = variables[index]
  else:  # Keras 2's layout, and the weight files keras.applications downloads
    root = h5["model_weights"] if "model_weights" in h5 else h5
    for name in _strings(root.attrs.get("layer_names", list(root))):
      names = _strings(root[name].attrs.get("weight_names", []))
      for index, weight in enumerate(names):
        found[f"{name}/{index}"] = root[name][weight]
  budget = _MAX_EXPANSION * max(path.stat().st_size, 1 << 20)
  if sum(d.size * d.dtype.itemsize for d in found.values()) > budget:
    raise WeightFileError(f"{path}: its datasets declare more than {_MAX_EXPANSION} times "
                          "the file's size (a decompression bomb?)")
  return {name: np.asarray(d[()]) for name, d in found.items()}


def _strings(values) -> list[str]:
  return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def _keras_layers(config, path: pathlib.Path) -> dict[str, dict]:
  """{layer name: {"class_name", "config"}} of a functional model's config."""
  if config is None:
    return {}
  try:
    layers = config["config"]["layers"]
    return {layer["config"]["name"]: {"class_name": layer["class_name"],
                                      "config": layer["config"]} for layer in layers}
  except (KeyError, TypeError):
    raise WeightFileError(f"{path}: its model config is not a functional model's "
                          f"(class {config.get('class_name') if isinstance(config, dict) else config!r:.40})"
                          ) from None
