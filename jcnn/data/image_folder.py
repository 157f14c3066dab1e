"""Image folders (`<split>/<class>/<image>`, the tfds.ImageFolder layout), plain or zipped.

A zip is extracted once into the cache; each split is decoded once into an `.npz` that is
reused until the split's file list changes.
"""
import concurrent.futures
import contextlib
import hashlib
import os
import pathlib
import shutil
import tempfile
import zipfile
import zlib

import numpy as np
from PIL import Image

from jcnn.data import npz
from jcnn.data.images import UNREADABLE
from jcnn.data.split import Split

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".ppm", ".pgm", ".tif",
                            ".tiff", ".webp"})
_GRAYSCALE_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})
_CHUNK = 256  # Images per decoding task: big enough to amortise the pool's overhead.


def load_image_folder(path: str | os.PathLike, split: str, cache_dir: pathlib.Path) -> Split:
  """Loads `split` of the image folder or zip at `path`, decoding through an `.npz` cache.

  Classes are the sorted union of the class folders of all splits, so that a label means
  the same class in every split.

  Args:
    path: a folder holding `<split>/<class>/<image>`, or a .zip holding that layout at its
      top or under one top folder.
    split: a split folder's name, e.g. "train".
    cache_dir: where zips are extracted and decoded splits are cached.

  Returns:
    A Split named after the folder (or zip), images [N, H, W, 3] RGB, or [N, H, W, 1] when
    every image is grayscale.
  """
  try:
    path = pathlib.Path(path).expanduser().resolve()
  except RuntimeError:  # Python < 3.13 says "Symlink loop" so; later ones leave it unresolved.
    raise ValueError(f"image_folder: {path} is a symlink loop") from None
  if not path.exists():
    raise FileNotFoundError(f"image_folder: {path} does not exist; expected a folder or a "
                            ".zip laid out <split>/<class>/<image>")
  if path.is_dir():
    work_dir = cache_dir / f"{path.name}-{_digest(str(path))}"
    root = path
  elif zipfile.is_zipfile(path):
    stat = path.stat()  # A changed zip gets a fresh extraction.
    work_dir = cache_dir / f"{path.stem}-{_digest(str(path), stat.st_size, stat.st_mtime_ns)}"
    root = _dataset_root(_extract_once(path, work_dir / "extracted"), split)
  else:
    raise ValueError(f"image_folder: {path} is neither a folder nor a .zip file")
  class_names = _class_names(root, split)
  files = _list_files(root / split, class_names)
  cache_file = work_dir / f"{split}-{_digest(class_names, files)}.npz"
  if cache_file.exists():
    cached = npz.load(cache_file, ("images", "labels"))
    images, labels = cached["images"], cached["labels"]
  else:
    images = decode_images([root / split / class_names[label] / f for label, f, _ in files])
    labels = np.array([label for label, _, _ in files], np.int32)
    _save_npz(cache_file, images=images, labels=labels)
  return Split(images=images, labels=labels, class_names=class_names,
               name=path.stem if path.is_file() else path.name, split=split)


def decode_images(files: list[pathlib.Path]) -> np.ndarray:
  """Decodes same-sized images in parallel threads (Pillow releases the GIL while decoding).

  Returns:
    images: [N, H, W, 3] uint8 RGB, or [N, H, W, 1] when every file is grayscale.
  """
  if not files:
    raise ValueError("decode_images: no image files given")
  chunks = [files[i:i + _CHUNK] for i in range(0, len(files), _CHUNK)]
  with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:
    decoded = [image for chunk in pool.map(_decode_chunk, chunks) for image in chunk]
  shape = decoded[0].shape[:2]
  for file, image in zip(files, decoded):
    if image.shape[:2] != shape:
      raise ValueError(f"image {file} is {image.shape[1]}x{image.shape[0]} (WxH) but "
                       f"{files[0]} is {shape[1]}x{shape[0]}; all images must share one size")
  if all(image.ndim == 2 for image in decoded):
    return np.stack(decoded)[..., None]
  return np.stack([np.stack([image] * 3, -1) if image.ndim == 2 else image
                   for image in decoded])


def _decode_chunk(files: list[pathlib.Path]) -> list[np.ndarray]:
  """Decodes to [H, W] for grayscale files and [H, W, 3] for all others."""
  out = []
  for file in files:
    try:
      with Image.open(file) as image:
        out.append(np.asarray(image.convert("L" if image.mode in _GRAYSCALE_MODES else "RGB")))
    except UNREADABLE as e:
      raise ValueError(f"cannot decode image {file}: {e}") from e
  return out


def _class_names(root: pathlib.Path, split: str) -> tuple[str, ...]:
  splits = _folders(root)
  if split not in splits:
    raise FileNotFoundError(f"image_folder: no split folder {root / split}; expected "
                            f"<split>/<class>/<image> with split in {splits}")
  names = sorted({c for s in splits for c in _folders(root / s)})
  if not names:
    raise FileNotFoundError(f"image_folder: no class folders in {root / split}; expected "
                            "<split>/<class>/<image>")
  return tuple(names)


def _folders(folder: pathlib.Path) -> list[str]:
  """The sorted names of the folders in `folder`. A symlink loop among them raises OSError
  naming it (DirEntry.is_dir does, Path.is_dir says False): a class must not vanish."""
  with os.scandir(folder) as entries:
    return sorted(e.name for e in entries if e.is_dir())


def _list_files(split_dir: pathlib.Path, class_names: tuple[str, ...]
                ) -> list[tuple[int, str, int]]:
  """(label, file name, size) of every image, in class order then file-name order."""
  files = []
  for label, name in enumerate(class_names):
    if (split_dir / name).is_dir():
      with os.scandir(split_dir / name) as entries:
        files += sorted((label, e.name, e.stat().st_size) for e in entries
                        if os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES
                        and not e.name.startswith("."))
  if not files:
    raise FileNotFoundError(f"image_folder: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) "
                            f"in {split_dir}/<class>/")
  return files


def _dataset_root(extracted: pathlib.Path, split: str) -> pathlib.Path:
  """The folder holding the splits: the zip's top, or its single top folder."""
  entries = [p for p in extracted.iterdir() if p.name != "__MACOSX"]
  if not (extracted / split).is_dir() and len(entries) == 1 and entries[0].is_dir():
    return entries[0]
  return extracted


def _extract_once(zip_path: pathlib.Path, target: pathlib.Path) -> pathlib.Path:
  """Extracts into a temporary folder and renames it, so a half-extracted tree never shows.

  A member named outside the folder (absolute, or through "..") refuses the whole zip
  before anything is written: zipfile would rename it silently, a hostile zip's sign.
  """
  if target.is_dir():
    return target
  _check_members(zip_path, target)
  created = not target.parent.exists()
  target.parent.mkdir(parents=True, exist_ok=True)
  tmp = pathlib.Path(tempfile.mkdtemp(dir=target.parent, prefix=".extracting-"))
  try:
    with zipfile.ZipFile(zip_path) as archive:
      archive.extractall(tmp)
    os.rename(tmp, target)
  except (zipfile.BadZipFile, zlib.error, EOFError) as e:
    raise ValueError(f"image_folder: {zip_path} is damaged ({e})") from None
  except OSError:
    if not target.is_dir():  # Not a lost race with another process extracting the same zip.
      raise
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
    if created and not target.is_dir():
      with contextlib.suppress(OSError):  # Left when another process extracts into it.
        target.parent.rmdir()
  return target


def _check_members(zip_path: pathlib.Path, target: pathlib.Path) -> None:
  """Raises ValueError naming the zip when it is unreadable or a member would land
  outside `target`."""
  root = os.path.realpath(target)
  try:
    with zipfile.ZipFile(zip_path) as archive:
      names = archive.namelist()
  except zipfile.BadZipFile as e:
    raise ValueError(f"image_folder: {zip_path} is damaged ({e})") from None
  for name in names:
    if os.path.commonpath([root, os.path.realpath(os.path.join(root, name))]) != root:
      raise ValueError(f"image_folder: {zip_path} holds {name!r}, a path outside its folder; "
                       "refusing to extract it")


def _save_npz(path: pathlib.Path, **arrays: np.ndarray) -> None:
  """Writes atomically, then drops this split's stale caches (same split, other file list)."""
  path.parent.mkdir(parents=True, exist_ok=True)
  with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz.tmp", delete=False) as f:
    np.savez(f, **arrays)
  os.replace(f.name, path)
  split = path.name.rsplit("-", 1)[0]
  for stale in path.parent.glob(f"{split}-*.npz"):
    if stale != path and stale.name.rsplit("-", 1)[0] == split:
      stale.unlink(missing_ok=True)


def _digest(*parts) -> str:
  return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
