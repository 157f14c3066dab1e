"""TFDS datasets prepared offline from their original files (`manual_dir`), read as numpy.

TensorFlow is imported here only, on first use, so the other sources never pay for it.
"""
import difflib
import pathlib
import tempfile

import numpy as np

from jcnn.data.split import Split


def load_tfds(name: str, split: str, manual_dir: pathlib.Path | None,
              cache_dir: pathlib.Path) -> Split:
  """Prepares `name` once from the files in `manual_dir` (no download), then reads `split`.

  Args:
    name: a TFDS builder name, e.g. "mnist", "fashion_mnist", "cifar10".
    split: a TFDS split string, e.g. "train", "test[:10%]".
    manual_dir: the folder holding the dataset's original files (as TFDS would download
      them); only needed while the dataset is not yet prepared in `cache_dir`.
    cache_dir: the TFDS data_dir that holds prepared datasets.

  Returns:
    A Split of the builder's supervised (image, label) pair, in TFDS's deterministic order.
  """
  tfds = import_tfds()
  try:
    builder = tfds.builder(name, data_dir=str(cache_dir))
  except tfds.core.registered.DatasetNotFoundError:
    known = tfds.list_builders(with_community_datasets=False)
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.6)
    raise ValueError(f"dataset {name!r} is neither 'digits', 'image_folder', nor a TFDS "
                     f"dataset; close TFDS names: {close}") from None
  image_key, label_key = _supervised_keys(builder)
  if not builder.is_prepared():
    _check_manual_files(builder, manual_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    # TFDS names an extraction after the source file's name alone, so in a shared extract
    # dir fashion_mnist would silently reuse mnist's t10k-images-idx3-ubyte; give each
    # preparation its own, and drop it once the dataset is written.
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".extract-") as extract_dir:
      builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
          manual_dir=str(manual_dir), extract_dir=extract_dir, try_download_gcs=False))
  data = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
  return Split(images=data[image_key], labels=data[label_key].astype(np.int32),
               class_names=tuple(builder.info.features[label_key].names), name=name,
               split=split)


def import_tfds():
  """Imports TFDS with TF's GPUs hidden: they belong to JAX, and TF would grab their memory."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  try:
    tf.config.set_visible_devices([], "GPU")
  except RuntimeError:  # TF is already initialised by the caller, who chose its devices.
    pass
  return tfds


def _supervised_keys(builder) -> tuple[str, str]:
  """The (image, label) feature names, checked to be fixed-size uint8 images and classes."""
  keys = builder.info.supervised_keys
  if not keys or len(keys) != 2 or not all(isinstance(k, str) for k in keys):
    raise ValueError(f"TFDS dataset {builder.name!r} has no (image, label) supervised keys: "
                     f"{keys}")
  image, label = builder.info.features[keys[0]], builder.info.features[keys[1]]
  if len(image.shape) != 3 or None in image.shape or image.np_dtype != np.uint8:
    raise ValueError(f"TFDS dataset {builder.name!r}: {keys[0]!r} is {image.np_dtype} "
                     f"{image.shape}; jcnn.data needs fixed-size uint8 [H, W, C] images")
  if not hasattr(label, "names"):
    raise ValueError(f"TFDS dataset {builder.name!r}: {keys[1]!r} is not a class label")
  return keys


def _check_manual_files(builder, manual_dir: pathlib.Path | None) -> None:
  """Fails fast where TFDS would retry a download for minutes on a machine without network."""
  if manual_dir is None:
    raise FileNotFoundError(
        f"TFDS dataset {builder.name!r} is not prepared in {builder.data_dir} and this "
        "machine cannot download it: pass data_dir=<folder with its original files> or set "
        "$JCNN_DATA_DIR to a folder holding <name>/<original files>")
  expected = sorted({info.filename for info in (builder.url_infos or {}).values()
                     if info.filename})
  missing = [f for f in expected if not (manual_dir / f).is_file()]
  # A builder with several configs lists every config's files, so only all-missing is wrong.
  several_configs = len(builder.BUILDER_CONFIGS) > 1
  if not manual_dir.is_dir() or (missing and (not several_configs or missing == expected)):
    raise FileNotFoundError(
        f"TFDS dataset {builder.name!r} is not prepared in {builder.data_dir} and this "
        f"machine cannot download it; searched {manual_dir} for its original files "
        f"{expected}, missing {missing if manual_dir.is_dir() else 'the folder itself'}")
