"""The photo index: every layout lists the same photos with the same labels and reads their
bytes by index, in this process, after pickling and in a forked child; bad layouts are one
line naming the path. And the real-photo test set built from ../shared/data."""
import errno
import hashlib
import multiprocessing
import os
import pathlib
import pickle
import shutil
import tarfile
import warnings
import zipfile

import numpy as np
import pytest
from PIL import Image

from jcnn.data import photos
from jcnn.data.photos import PhotoIndex, index_photos
from tests.photo_set import build_photo_set, write_bad_files

# (width, height) of each photo; bird has photos in test only, dog a nested subfolder.
TREE = {"train/cat/a.jpg": (23, 17), "train/cat/b.png": (9, 30), "train/dog/x.jpg": (40, 12),
        "train/dog/sub/y.JPEG": (16, 16), "test/cat/c.jpg": (20, 25),
        "test/bird/z.jpg": (31, 8)}
CLASSES = ("bird", "cat", "dog")
# Sorted by (class, path): "sub/y.JPEG" before "x.jpg".
EXPECTED = {"train": (["train/cat/a.jpg", "train/cat/b.png", "train/dog/sub/y.JPEG",
                       "train/dog/x.jpg"], [1, 1, 2, 2]),
            "test": (["test/bird/z.jpg", "test/cat/c.jpg"], [0, 1])}


@pytest.fixture
def tree(tmp_path) -> pathlib.Path:
  """`photos/<split>/<class>/<image>`: small photos of noise, each a different size."""
  root = tmp_path / "photos"
  rng = np.random.default_rng(0)
  for file, (width, height) in TREE.items():
    (root / file).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), np.uint8)).save(root / file)
  return root


def _zip(tree, out, prefix="", method=zipfile.ZIP_DEFLATED):
  with zipfile.ZipFile(out, "w", method) as archive:
    for path in sorted(tree.rglob("*")):  # Folders too: zip keeps "train/cat/" members.
      archive.write(path, prefix + path.relative_to(tree).as_posix())
  return out


def _tar(tree, out, arcname, mode="w"):
  with tarfile.open(out, mode) as archive:
    archive.add(tree, arcname=arcname)
  return out


def _zip_under_one_folder(tree, tmp):
  out = _zip(tree, tmp / "photos.zip", "photos/", zipfile.ZIP_STORED)
  with zipfile.ZipFile(out, "a") as archive:  # What macOS's Finder adds.
    archive.writestr("__MACOSX/photos/train/cat/._a.jpg", b"\0\5\26\7")
  return out


def _csv_folder(tree, tmp):
  """lists/{train,test}.csv naming the tree's photos, in reverse order."""
  (tmp / "lists").mkdir()
  for split in ("train", "test"):
    rows = [f"../photos/{f},{f.split('/')[1]}" for f in reversed(TREE) if f.startswith(split)]
    (tmp / "lists" / f"{split}.csv").write_text("\n".join(["file,label", *rows]) + "\n")
  return tmp / "lists"


LAYOUTS = {
    "folder": lambda tree, tmp: tree,
    "zip": lambda tree, tmp: _zip(tree, tmp / "photos.zip"),
    "zip_under_one_folder": _zip_under_one_folder,
    "tar": lambda tree, tmp: _tar(tree, tmp / "photos.tar", "."),  # ./train/cat/a.jpg
    "tar_under_one_folder": lambda tree, tmp: _tar(tree, tmp / "photos.tar", "photos"),
    "csv_folder": _csv_folder,
}


def _tail(file: str, split: str) -> str:
  """`file` from its split folder on: "photos/train/cat/a.jpg" -> "train/cat/a.jpg"."""
  parts = file.split("/")
  return "/".join(parts[parts.index(split):])


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("split", ["train", "test"])
def test_every_layout_indexes_the_same_photos_with_the_same_labels(layout, split, tree,
                                                                   tmp_path):
  index = index_photos(LAYOUTS[layout](tree, tmp_path), split)
  files, labels = EXPECTED[split]
  assert index.class_names == CLASSES and index.num_classes == 3
  assert [_tail(f, split) for f in index.files] == files
  np.testing.assert_array_equal(index.labels, labels)
  assert index.labels.dtype == np.int32 and len(index) == len(files)
  assert index.split == split and index.name == {"csv_folder": "lists"}.get(layout, "photos")
  for i, file in enumerate(files):
    assert index.read(i) == (tree / file).read_bytes()


def test_describe_names_a_file_on_disk_or_an_archive_member(tree, tmp_path):
  assert index_photos(tree, "train").describe(2) == f"{tree}/train/dog/sub/y.JPEG"
  archive = _zip(tree, tmp_path / "photos.zip")
  assert index_photos(archive, "train").describe(0) == f"{archive}:train/cat/a.jpg"
  assert repr(index_photos(archive, "test")) == (
      f"PhotoIndex(photos/test: 2 files, 3 classes, root='{archive}')")


def test_a_single_csv_takes_its_classes_from_its_own_labels(tree, tmp_path):
  (tmp_path / "labels.csv").write_text(
      "label,file\n cat , photos/train/cat/a.jpg\ndog,photos/train/dog/x.jpg\n")
  index = index_photos(tmp_path / "labels.csv", "train")
  assert index.class_names == ("cat", "dog") and index.name == "labels"
  assert index.files == ("photos/train/cat/a.jpg", "photos/train/dog/x.jpg")
  assert index.read(1) == (tree / "train/dog/x.jpg").read_bytes()


def test_imagenet_layout_keeps_wnid_classes_and_upper_case_JPEG(tmp_path):
  for split, wnid, k in [("train", "n01443537", 2), ("train", "n01440764", 10026),
                         ("train", "n01440764", 10027), ("val", "n01443537", 1)]:
    folder = tmp_path / "imagenet" / split / wnid
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{wnid}_{k}.JPEG").write_bytes(f"{wnid} {k}".encode())
  index = index_photos(tmp_path / "imagenet", "train")
  assert index.class_names == ("n01440764", "n01443537")
  assert index.files == ("train/n01440764/n01440764_10026.JPEG",
                         "train/n01440764/n01440764_10027.JPEG",
                         "train/n01443537/n01443537_2.JPEG")
  assert index.read(2) == b"n01443537 2"


@pytest.mark.parametrize("layout", ["zip", "tar"])
def test_an_archive_index_pickles_without_its_handle_and_reads_in_a_forked_child(
    layout, tree, tmp_path):
  index = index_photos(LAYOUTS[layout](tree, tmp_path), "train")
  expected = [(tree / f).read_bytes() for f in EXPECTED["train"][0]]
  size = len(pickle.dumps(index))
  assert index.read(0) == expected[0]  # The handle is open now, and stays out of pickles.
  assert len(pickle.dumps(index)) == size
  assert [pickle.loads(pickle.dumps(index)).read(i) for i in range(4)] == expected
  context = multiprocessing.get_context("fork")
  receive, send = context.Pipe(duplex=False)
  child = context.Process(target=lambda: send.send([index.read(i) for i in (3, 2, 1, 0)]))
  child.start()
  assert receive.poll(60), f"the child sent nothing (exit code {child.exitcode})"
  assert receive.recv() == expected[::-1]
  child.join()
  assert child.exitcode == 0 and [index.read(i) for i in range(4)] == expected


def test_non_image_files_are_counted_in_one_warning_and_hidden_files_skipped_silently(
    tree, tmp_path):
  (tree / "train/cat/notes.txt").write_text("cats")
  (tree / "train/dog/sub/labels.json").write_text("{}")
  (tree / "train/loose.jpg").write_bytes(b"a photo in no class folder")
  (tree / "train/cat/.DS_Store").write_bytes(b"\0")
  (tree / "train/cat/._a.jpg").write_bytes(b"\0\5\26\7")  # macOS's AppleDouble files.
  (tree / "train/.hidden").mkdir()
  (tree / "train/.hidden/h.jpg").write_bytes(b"\0")
  for data_dir in (tree, _zip(tree, tmp_path / "photos.zip")):
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter("always")
      index = index_photos(data_dir, "train")
    assert [_tail(f, "train") for f in index.files] == EXPECTED["train"][0]
    assert len(caught) == 1, [str(w.message) for w in caught]
    separator = "/" if data_dir == tree else ":"
    assert str(caught[0].message).startswith(
        f"image_folder: skipped 3 files of {data_dir} that are not images (")
    assert str(caught[0].message).endswith(f"the first: {data_dir}{separator}train/cat/notes.txt")


def _error(data_dir, split="train") -> str:
  """index_photos's error, checked to be one line."""
  with pytest.raises(ValueError) as error:
    index_photos(data_dir, split)
  assert "\n" not in str(error.value)
  return str(error.value)


def test_a_path_that_fits_no_layout_names_it_and_the_layouts(tmp_path):
  (tmp_path / "notes.txt").write_text("photos?")
  assert _error(tmp_path / "notes.txt") == (f"image_folder: {tmp_path}/notes.txt is not a "
                                            f"folder, .zip, .tar or .csv; {photos.LAYOUTS}")
  assert _error(tmp_path / "nowhere") == (f"image_folder: {tmp_path}/nowhere does not "
                                          f"exist; {photos.LAYOUTS}")


@pytest.mark.parametrize("layout", ["folder", "zip", "tar_under_one_folder"])
def test_a_missing_split_names_the_splits_there(layout, tree, tmp_path):
  data_dir = LAYOUTS[layout](tree, tmp_path)
  assert _error(data_dir, "val").startswith(
      f"image_folder: no split 'val' in {data_dir} (splits there: test, train); expected ")


def test_an_empty_class_folder_is_an_error_naming_it(tree, tmp_path):
  (tree / "train/empty").mkdir()
  (tree / "train/notes").mkdir()
  (tree / "train/notes/read_me.txt").write_text("a class with no photos")
  zipped = _zip(tree, tmp_path / "photos.zip")
  assert _error(tree).startswith(f"image_folder: class folder {tree}/train/empty holds no "
                                 "images (.bmp, ")
  assert _error(zipped).startswith(f"image_folder: class folder {zipped}:train/empty holds ")
  (tree / "train/empty").rmdir()
  assert _error(tree).startswith(f"image_folder: class folder {tree}/train/notes holds ")


def test_a_split_without_images_is_an_error(tree):
  shutil.rmtree(tree / "test")
  (tree / "test").mkdir()
  assert _error(tree, "test").startswith("image_folder: no images (.bmp, ")
  assert f"in split 'test' of {tree}; expected a folder" in _error(tree, "test")


def test_an_unreadable_folder_is_one_line_naming_it(tree, monkeypatch):
  scandir = os.scandir

  def refuse(path):  # chmod 000 does not stop root, who runs these tests in containers.
    if pathlib.Path(path) == tree / "train/dog/sub":
      raise PermissionError(errno.EACCES, "Permission denied", str(path))
    return scandir(path)

  monkeypatch.setattr(os, "scandir", refuse)
  assert _error(tree) == f"image_folder: cannot read {tree}/train/dog/sub: Permission denied"


def test_symlink_loops_are_one_line_naming_the_link(tree):
  (tree / "train/dog/sub/back").symlink_to(tree / "train/dog")
  assert _error(tree) == (f"image_folder: {tree}/train/dog/sub/back is a symlink loop (it "
                          "leads back to a folder above it)")
  (tree / "train/dog/sub/back").unlink()
  (tree / "test/self").symlink_to(tree / "test/self")
  assert _error(tree) == f"image_folder: {tree}/test/self is a symlink loop"
  (tree.parent / "loop").symlink_to(tree.parent / "loop")
  assert _error(tree.parent / "loop") == f"image_folder: {tree.parent}/loop is a symlink loop"


def test_two_links_to_one_folder_are_no_loop(tree):
  (tree / "train/dog/again").symlink_to(tree / "train/dog/sub")
  assert index_photos(tree, "train").files[2:4] == ("train/dog/again/y.JPEG",
                                                    "train/dog/sub/y.JPEG")


def test_csv_errors_name_the_line(tree, tmp_path):
  lists = _csv_folder(tree, tmp_path)
  with open(lists / "train.csv", "a") as f:
    f.write("../photos/train/cat/gone.jpg,cat\n")
  assert _error(lists) == (f"image_folder: {lists}/train.csv, line 6: "
                           f"{lists}/../photos/train/cat/gone.jpg does not exist")
  (lists / "train.csv").write_text("file,label\n../photos/train/cat/a.jpg,\n")
  assert _error(lists) == f"image_folder: {lists}/train.csv, line 2: an empty label"
  (lists / "train.csv").write_text("path,class\na.jpg,cat\n")
  assert _error(lists) == (f"image_folder: {lists}/train.csv has the header 'path,class'; "
                           "expected file,label")


def test_a_csv_that_is_no_file_list_is_no_split(tree, tmp_path):
  lists = _csv_folder(tree, tmp_path)
  (lists / "notes.csv").write_text("when,what\n2024,photos\n")
  assert index_photos(lists, "train").class_names == CLASSES


@pytest.mark.parametrize("mode,compression", [("w:gz", "gzip"), ("w:bz2", "bzip2"),
                                              ("w:xz", "xz")])
def test_a_compressed_tar_is_refused_with_what_to_do(mode, compression, tree, tmp_path):
  archive = _tar(tree, tmp_path / "photos.tar.gz", ".", mode)
  assert _error(archive) == (f"image_folder: {archive} is {compression}-compressed, which "
                             "has no random access; extract it, or repack it as an "
                             "uncompressed .tar or a .zip")


def test_a_damaged_zip_member_raises_naming_it_when_read(tree, tmp_path):
  archive = _zip(tree, tmp_path / "photos.zip", method=zipfile.ZIP_STORED)
  data = bytearray(archive.read_bytes())
  start = data.index((tree / "train/cat/b.png").read_bytes())
  data[start + 40] ^= 0xFF
  archive.write_bytes(data)
  index = index_photos(archive, "train")
  assert index.read(0) == (tree / "train/cat/a.jpg").read_bytes()
  with pytest.raises(ValueError, match=f"^{archive}:train/cat/b.png: damaged .*CRC-32"):
    index.read(1)


def test_an_archive_changed_after_indexing_is_refused(tree, tmp_path):
  archive = _tar(tree, tmp_path / "photos.tar", ".")
  index = index_photos(archive, "train")
  _tar(tree / "train", archive, ".")
  with pytest.raises(ValueError, match=f"^{archive} changed since it was indexed"):
    index.read(0)


def test_a_truncated_archive_is_one_line_naming_it(tree, tmp_path):
  archive = _tar(tree, tmp_path / "photos.tar", ".")
  with tarfile.open(archive) as opened:
    first = next(m for m in opened.getmembers() if m.isfile())
  archive.write_bytes(archive.read_bytes()[:first.offset_data + first.size // 2])
  assert _error(archive).startswith(f"image_folder: {archive} is damaged (")
  # At a member's boundary, which tarfile takes for the archive's end.
  archive.write_bytes(archive.read_bytes()[:first.offset])
  assert _error(archive).startswith(f"image_folder: {archive} is damaged (it ends at ")
  zipped = _zip(tree, tmp_path / "photos.zip")
  zipped.write_bytes(zipped.read_bytes()[:-30])
  assert _error(zipped) == (f"image_folder: {zipped} is damaged: not a readable .zip "
                            "archive")


def test_labels_outside_the_classes_are_refused():
  with pytest.raises(ValueError, match=r"labels span \[0, 2\] but there are 2 classes"):
    PhotoIndex("/photos", ("a.jpg", "b.jpg"), np.array([0, 2]), ("cat", "dog"), "p", "train")


@pytest.fixture(scope="session")
def photo_set(shared_data, tmp_path_factory) -> pathlib.Path:
  return build_photo_set(tmp_path_factory.mktemp("photo_set"), shared_data)


def _digests(folder: pathlib.Path) -> list[tuple[str, str]]:
  return [(p.relative_to(folder).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest())
          for p in sorted(folder.rglob("*.jpg"))]


def test_the_photo_set_is_real_jpegs_of_many_sizes_built_the_same_twice(
    photo_set, shared_data, tmp_path):
  train, test = index_photos(photo_set, "train"), index_photos(photo_set, "test")
  assert train.class_names == ("bowl", "chair", "person", "raccoon", "teddy_bear")
  np.testing.assert_array_equal(np.bincount(train.labels), [16, 16, 114, 174, 16])
  np.testing.assert_array_equal(np.bincount(test.labels), [3, 3, 28, 43, 3])
  sizes = set()
  for i in range(0, len(train), 7):
    with Image.open(photo_set / train.files[i]) as image:
      assert image.format == "JPEG" and image.mode == "RGB" and min(image.size) >= 32
      sizes.add(image.size)
  assert len(sizes) > 40
  assert _digests(build_photo_set(tmp_path / "again", shared_data)) == _digests(photo_set)
  limited = build_photo_set(tmp_path / "limited", shared_data, per_class_limit=10)
  np.testing.assert_array_equal(np.bincount(index_photos(limited, "train").labels), [8] * 5)


def test_write_bad_files_writes_photos_that_do_not_decode_or_are_not_rgb(tree):
  bad = write_bad_files(tree / "train/cat")
  index = index_photos(tree, "train")
  assert len(index) == 4 + 5
  for name in ("truncated", "empty", "text"):
    with pytest.raises(OSError):
      with Image.open(bad[name]) as image:
        image.load()
  assert Image.open(bad["cmyk"]).mode == "CMYK" and Image.open(bad["png16"]).mode == "I;16"
