"""A random-access index of photo files: (file, label) pairs, read by index, never decoded.

  index = index_photos("~/data/imagenet", "train")  # train/<wnid>/*.JPEG
  index.read(7)  # file 7's JPEG bytes; index.labels[7] its class

One split of a folder, a .zip or .tar, or a CSV file list. Only the names are held, so
ImageNet's 1.28 M photos cost ~100 MB. Archive members are read at their offsets through a
plain file handle that each process opens for itself (Grain's workers), never extracted.
"""
import csv
import dataclasses
import errno
import os
import pathlib
import struct
import tarfile
import warnings
import zipfile
import zlib

import numpy as np

from jcnn.data.image_folder import IMAGE_SUFFIXES

# What every "nothing fits" error line ends with.
LAYOUTS = ("expected a folder <split>/<class>/<image>, a .zip or .tar holding that layout "
           "at its top or under one folder, a folder holding <split>.csv, or a .csv file; "
           "a .csv has the header file,label and paths relative to its folder")
_SUFFIXES = ", ".join(sorted(IMAGE_SUFFIXES))
_TAR = -1  # A member's method: raw bytes at its offset; zip's are zipfile.ZIP_STORED/DEFLATED.
_ZIP_HEADER = struct.Struct("<4s22xHH")  # A zip member's local header: magic ... name, extra.
_COMPRESSED = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz",
               b"\x28\xb5\x2f\xfd": "zstd"}


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class PhotoIndex:
  """One split of a photo dataset as (file, label) pairs, read by index.

  Pickles cheaply for worker processes: an archive's handle is opened lazily by each
  process (forked children reopen it) and never pickled.

  Attributes:
    root: the folder, .zip or .tar (or the CSV's folder).
    files: [N] paths relative to `root`, or archive member names.
    labels: [N] int32 indices into `class_names`.
    class_names: the classes, shared by every split of the dataset.
    name: the dataset's name (the folder's name, or the archive's or CSV's stem).
    split: the split's name.
  """
  root: str
  files: tuple[str, ...]
  labels: np.ndarray
  class_names: tuple[str, ...]
  name: str
  split: str
  # Archives only: [N, 5] int64 (offset, stored size, size, method, CRC-32) of each member:
  # a tar member's bytes lie at offset; a zip member's local header does.
  _members: np.ndarray | None = None
  _stamp: tuple[int, int] | None = None  # The archive's (size, mtime_ns) when indexed.

  def __post_init__(self):
    labels = np.array(self.labels, np.int32)
    labels.setflags(write=False)
    object.__setattr__(self, "labels", labels)
    if labels.shape != (len(self.files),):
      raise ValueError(f"{len(self.files)} files but labels of shape {labels.shape}")
    if len(labels) and not 0 <= labels.min() <= labels.max() < len(self.class_names):
      raise ValueError(f"labels span [{labels.min()}, {labels.max()}] but there are "
                       f"{len(self.class_names)} classes")

  def __len__(self) -> int:
    return len(self.files)

  def __repr__(self) -> str:
    return (f"PhotoIndex({self.name}/{self.split}: {len(self)} files, {self.num_classes} "
            f"classes, root={self.root!r})")

  def __getstate__(self) -> dict:
    return {k: v for k, v in self.__dict__.items() if k != "_handle"}

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  def describe(self, i: int) -> str:
    """File `i` for error lines: "<root>/<file>", or "<archive>:<member>"."""
    if self._members is None:
      return os.path.join(self.root, self.files[i])
    return f"{self.root}:{self.files[i]}"

  def read(self, i: int) -> bytes:
    """The encoded bytes of file `i`.

    Raises:
      OSError or ValueError, naming the file: it is missing, unreadable, or damaged.
    """
    if self._members is None:
      with open(os.path.join(self.root, self.files[i]), "rb") as f:
        return f.read()
    offset, stored, size, method, crc = (int(v) for v in self._members[i])
    fd = self._archive().fileno()
    if method != _TAR:  # The local header's name and extra field precede the data.
      header = os.pread(fd, _ZIP_HEADER.size, offset)
      magic, name_size, extra_size = _ZIP_HEADER.unpack(header.ljust(_ZIP_HEADER.size))
      if magic != b"PK\x03\x04":
        raise ValueError(f"{self.describe(i)}: no member header at byte {offset}; the zip "
                         "is damaged")
      offset += _ZIP_HEADER.size + name_size + extra_size
    data = os.pread(fd, stored, offset)  # pread: threads share the handle, not a position.
    if len(data) != stored:
      raise ValueError(f"{self.describe(i)}: truncated, {len(data)} of {stored} bytes")
    if method == _TAR:
      return data
    if method == zipfile.ZIP_DEFLATED:
      try:  # At most size + 1 bytes: a member cannot inflate past what the zip declares.
        data = zlib.decompressobj(-zlib.MAX_WBITS).decompress(data, size + 1)
      except zlib.error as e:
        raise ValueError(f"{self.describe(i)}: damaged ({e})") from None
    if len(data) != size or zlib.crc32(data) != crc:
      raise ValueError(f"{self.describe(i)}: damaged (its size or CRC-32 does not match "
                       "the zip's directory)")
    return data

  def _archive(self):
    """The archive, opened once per process: after a fork the child opens its own."""
    pid, handle = self.__dict__.get("_handle", (None, None))
    if pid != os.getpid():
      handle = open(self.root, "rb", buffering=0)
      stat = os.fstat(handle.fileno())
      if (stat.st_size, stat.st_mtime_ns) != self._stamp:
        handle.close()  # Offsets into another file would read garbage.
        raise ValueError(f"{self.root} changed since it was indexed; index it again")
      object.__setattr__(self, "_handle", (os.getpid(), handle))
    return handle


def subset(index: PhotoIndex, keep: np.ndarray) -> PhotoIndex:
  """The photos `keep` (indices into `index`) of `index`, in that order."""
  keep = np.asarray(keep, np.int64)
  return dataclasses.replace(
      index, files=tuple(index.files[i] for i in keep), labels=index.labels[keep],
      _members=None if index._members is None else index._members[keep])


def index_photos(data_dir: str | os.PathLike, split: str) -> PhotoIndex:
  """Indexes split `split` of the photos at `data_dir`, tried in this order:

  - a folder `<split>/<class>/<image>` (torchvision's and tfds's ImageFolder; ImageNet's
    `train/<wnid>/*.JPEG`), subfolders of a class folder searched recursively;
  - a .zip or uncompressed .tar holding that layout at its top or under one folder;
  - a folder holding `<split>.csv`, or a .csv file: header `file,label`, paths relative
    to the CSV's folder, labels class names.

  Classes are the sorted union of the class folders (or labels) of every split, so a label
  means the same class in every split. Files are sorted by (class, path). Files whose
  suffix is not an image's are skipped with one warning; hidden ones (".*") silently.

  Raises:
    ValueError: one line naming the path, when nothing fits or the data cannot serve
      (a missing split, an empty class folder, no images, an unreadable folder, a missing
      file in a CSV, a compressed tar, a symlink loop).
  """
  path = pathlib.Path(os.path.abspath(os.path.expanduser(data_dir)))
  try:
    return _index(path, split)
  except OSError as e:
    where = e.filename or path
    raise ValueError(f"image_folder: cannot read {where}: {e.strerror or e}") from None


def _index(path: pathlib.Path, split: str) -> PhotoIndex:
  try:
    os.stat(path)
  except OSError as e:
    if e.errno == errno.ELOOP:
      raise ValueError(f"image_folder: {path} is a symlink loop") from None
    if e.errno != errno.ENOENT:
      raise
    raise ValueError(f"image_folder: {path} does not exist; {LAYOUTS}") from None
  if path.is_dir():
    if (path / split).is_dir():
      return _index_folder(path, split)
    if (path / f"{split}.csv").is_file():
      return _index_csv(path / f"{split}.csv", split, path.name,
                        [p for p in path.glob("*.csv") if not p.name.startswith(".")])
    found = _folders(path)
    found += [p.stem for p in sorted(path.glob("*.csv")) if not p.name.startswith(".")]
    raise ValueError(f"image_folder: no split {split!r} in {path} (splits there: "
                     f"{', '.join(found) or 'none'}); {LAYOUTS}")
  if path.suffix.lower() == ".csv":
    return _index_csv(path, split, path.stem, [path])
  with open(path, "rb") as f:
    head = f.read(8)
  for magic, compression in _COMPRESSED.items():
    if head.startswith(magic):
      raise ValueError(f"image_folder: {path} is {compression}-compressed, which has no "
                       "random access; extract it, or repack it as an uncompressed .tar "
                       "or a .zip")
  if zipfile.is_zipfile(path):
    return _index_zip(path, split)
  if tarfile.is_tarfile(path):
    return _index_tar(path, split)
  if path.suffix.lower() in (".zip", ".tar"):  # Most often a download cut short.
    raise ValueError(f"image_folder: {path} is damaged: not a readable {path.suffix} archive")
  raise ValueError(f"image_folder: {path} is not a folder, .zip, .tar or .csv; {LAYOUTS}")


def _index_folder(root: pathlib.Path, split: str) -> PhotoIndex:
  skipped = []  # Files in the split folder itself have no class.
  in_split = [e.name for e in _entries(root / split, skipped) if _is_dir(e)]
  class_names = set(in_split)
  for s in _folders(root):
    if s != split:
      class_names.update(_folders(root / s))
  labels = {name: label for label, name in enumerate(sorted(class_names))}
  entries = []
  for name in in_split:
    folder = root / split / name
    found = _walk(folder, f"{split}/{name}", skipped, frozenset())
    if not found:
      raise ValueError(f"image_folder: class folder {folder} holds no images ({_SUFFIXES}); "
                       "a class needs examples: fill it or remove it")
    entries += [(labels[name], file, None) for file in found]
  return _make_index(root, split, root.name, list(labels), entries, skipped)


def _folders(folder: pathlib.Path) -> list[str]:
  return [e.name for e in _entries(folder) if _is_dir(e)]


def _entries(folder: pathlib.Path, skipped: list | None = None) -> list[os.DirEntry]:
  """The visible entries of `folder`; its files go to `skipped` when it is given."""
  with os.scandir(folder) as it:
    entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
  if skipped is not None:
    skipped += [e.path for e in entries if not _is_dir(e)]
  return entries


def _is_dir(entry: os.DirEntry) -> bool:
  """DirEntry.is_dir, a symlink loop named (it raises OSError ELOOP; Path.is_dir says False)."""
  try:
    return entry.is_dir()
  except OSError as e:
    if e.errno == errno.ELOOP:
      raise ValueError(f"image_folder: {entry.path} is a symlink loop") from None
    raise


def _walk(folder: pathlib.Path, relative: str, skipped: list, above: frozenset) -> list[str]:
  """The image paths under `folder`, named `relative/...`, searching subfolders (and
  symlinked ones) as torchvision's ImageFolder does; `above`: the folders on the way here,
  as (device, inode), to tell a symlink loop from two links to one folder."""
  stat = os.stat(folder)
  here = (stat.st_dev, stat.st_ino)
  if here in above:
    raise ValueError(f"image_folder: {folder} is a symlink loop (it leads back to a folder "
                     "above it)")
  found = []
  for e in _entries(folder):
    if _is_dir(e):
      found += _walk(pathlib.Path(e.path), f"{relative}/{e.name}", skipped, above | {here})
    elif os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES:
      found.append(f"{relative}/{e.name}")
    else:
      skipped.append(e.path)
  return found


def _index_zip(path: pathlib.Path, split: str) -> PhotoIndex:
  try:
    with zipfile.ZipFile(path) as archive:
      infos = archive.infolist()
  except (zipfile.BadZipFile, zlib.error, EOFError) as e:
    raise ValueError(f"image_folder: {path} is damaged ({e})") from None
  for info in infos:
    if ((info.flag_bits & 1 or info.compress_type not in (zipfile.ZIP_STORED,
                                                          zipfile.ZIP_DEFLATED))
        and os.path.splitext(info.filename)[1].lower() in IMAGE_SUFFIXES):
      how = "encrypted" if info.flag_bits & 1 else f"compressed by method {info.compress_type}"
      raise ValueError(f"image_folder: {path}:{info.filename} is {how}; jcnn reads stored "
                       "or deflated members: repack the zip")
  return _index_archive(path, split, [
      (info.filename, "dir" if info.is_dir() else "file",
       (info.header_offset, info.compress_size, info.file_size, info.compress_type, info.CRC))
      for info in infos])


def _index_tar(path: pathlib.Path, split: str) -> PhotoIndex:
  members = []
  try:
    with tarfile.open(path, "r:") as archive:
      while (info := archive.next()) is not None:
        archive.members.clear()  # tarfile keeps every header read: ~1 KB per member.
        # Links and sparse files have no bytes of their own at offset_data.
        kind = ("dir" if info.isdir() else "file" if info.isreg() and not info.issparse()
                else "other")
        members.append((info.name, kind, (info.offset_data, info.size, info.size, _TAR, 0)))
      # tarfile takes a header cut short for the archive's end; a whole tar ends in zeros.
      if path.stat().st_size - archive.offset < tarfile.BLOCKSIZE:
        raise tarfile.ReadError(f"it ends at byte {path.stat().st_size} without the "
                                "end-of-archive blocks")
  except tarfile.TarError as e:
    raise ValueError(f"image_folder: {path} is damaged ({e})") from None
  return _index_archive(path, split, members)


def _index_archive(path: pathlib.Path, split: str, members: list) -> PhotoIndex:
  """The index of the `<split>/<class>/<image>` members of an archive, at its top or under
  one top folder. members: (name, "dir", "file" or "other", location)."""
  parts = []
  for name, kind, location in members:
    name = "/" + name.removeprefix("./").strip("/")
    if "/." not in name and "/__MACOSX/" not in name + "/" and name != "/":
      parts.append((name[1:].split("/"), kind, location))
  # A folder shows as a member's parent, or as a member of its own.
  parents = {tuple(names if kind == "dir" else names[:-1]) for names, kind, _ in parts}
  folders = {parent[:n] for parent in parents for n in range(1, len(parent) + 1)}
  tops = [f[0] for f in folders if len(f) == 1]
  top = tops if split not in tops and len(tops) == 1 else []
  folders = {f[len(top):] for f in folders if list(f[:len(top)]) == top and len(f) > len(top)}
  splits = sorted(f[0] for f in folders if len(f) == 1)
  if split not in splits:
    raise ValueError(f"image_folder: no split {split!r} in {path} (splits there: "
                     f"{', '.join(splits) or 'none'}); {LAYOUTS}")
  labels = {name: label for label, name in
            enumerate(sorted({f[1] for f in folders if len(f) == 2}))}
  entries, skipped, filled = [], [], set()
  for names, kind, location in parts:
    names = names[len(top):] if names[:len(top)] == top else None
    if not names or names[0] != split or kind == "dir":
      continue
    if (len(names) > 2 and kind == "file"
        and os.path.splitext(names[-1])[1].lower() in IMAGE_SUFFIXES):
      entries.append((labels[names[1]], "/".join(top + names), location))
      filled.add(names[1])
    else:
      skipped.append(f"{path}:{'/'.join(top + names)}")
  for f in sorted(folders):
    if len(f) == 2 and f[0] == split and f[1] not in filled:
      raise ValueError(f"image_folder: class folder {path}:{'/'.join(top + list(f))} holds "
                       f"no images ({_SUFFIXES}); a class needs examples: fill it or remove it")
  stat = path.stat()
  index = _make_index(path, split, path.stem, list(labels), entries, skipped)
  return dataclasses.replace(index, _stamp=(stat.st_size, stat.st_mtime_ns))


def _index_csv(path: pathlib.Path, split: str, name: str,
               file_lists: list[pathlib.Path]) -> PhotoIndex:
  """The rows of the CSV `path`; classes: the labels of it and of the other CSVs of
  `file_lists` whose header says file,label (others are no splits)."""
  rows = _read_csv(path)
  labels = {label for _, _, label in rows}
  for other in file_lists:
    if other != path and _is_file_list(other):
      labels.update(label for _, _, label in _read_csv(other))
  labels = {label: i for i, label in enumerate(sorted(labels))}
  root, entries, skipped = path.parent, [], []
  for line, file, label in rows:
    if os.path.splitext(file)[1].lower() not in IMAGE_SUFFIXES:
      skipped.append(f"{path}, line {line}: {file}")
    elif not os.path.isfile(root / file):
      raise ValueError(f"image_folder: {path}, line {line}: {root / file} does not exist")
    else:
      entries.append((labels[label], file, None))
  return _make_index(root, split, name, list(labels), entries, skipped)


def _is_file_list(path: pathlib.Path) -> bool:
  """Whether a CSV's header names the columns file and label."""
  with open(path, newline="", encoding="utf-8", errors="replace") as f:
    return {"file", "label"} <= {c.strip() for c in next(csv.reader(f), [])}


def _read_csv(path: pathlib.Path) -> list[tuple[int, str, str]]:
  """(line number, file, label) of every row."""
  rows = []
  try:
    with open(path, newline="", encoding="utf-8") as f:
      reader = csv.DictReader(f, skipinitialspace=True)
      header = [c.strip() for c in reader.fieldnames or []]
      if not {"file", "label"} <= set(header):
        raise ValueError(f"image_folder: {path} has the header {','.join(header)!r}; "
                         "expected file,label")
      reader.fieldnames = header
      for row in reader:
        file, label = ((row[c] or "").strip() for c in ("file", "label"))
        if not file or not label:
          raise ValueError(f"image_folder: {path}, line {reader.line_num}: an empty "
                           f"{'file' if not file else 'label'}")
        rows.append((reader.line_num, file, label))
  except UnicodeDecodeError as e:
    raise ValueError(f"image_folder: {path} is not UTF-8 text ({e.reason} at byte "
                     f"{e.start})") from None
  except csv.Error as e:
    raise ValueError(f"image_folder: {path}: {e}") from None
  return rows


def _make_index(root: pathlib.Path, split: str, name: str, class_names: list[str],
                entries: list[tuple], skipped: list[str]) -> PhotoIndex:
  """entries: (label, file, archive location or None), in any order."""
  if skipped:
    warnings.warn(f"image_folder: skipped {len(skipped)} files of {root} that are not "
                  f"images ({_SUFFIXES}) in a class folder, the first: {min(skipped)}")
  if not entries:
    raise ValueError(f"image_folder: no images ({_SUFFIXES}) in split {split!r} of {root}; "
                     f"{LAYOUTS}")
  entries.sort(key=lambda e: e[:2])
  archive = entries[0][2] is not None
  return PhotoIndex(
      root=str(root), files=tuple(e[1] for e in entries),
      labels=np.array([e[0] for e in entries], np.int32), class_names=tuple(class_names),
      name=name, split=split,
      _members=np.array([e[2] for e in entries], np.int64) if archive else None)
