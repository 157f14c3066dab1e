"""Images per second the input pipeline delivers, with no model: is it ever the bottleneck?

    JCNN_DATA_DIR=../shared/data python benchmarks/input_pipeline.py
    python benchmarks/input_pipeline.py --datasets cifar10 --seconds 10
    python benchmarks/input_pipeline.py --photos --save  # against torchvision and tf.data

In memory (the default): for each dataset, the training stream of its config (MNIST:
train/configs/lenet5_mnist.py, pad 2; CIFAR-10: train/configs/resnet20_cifar10.py, pad-4
random crop and flip), with normalisation, shuffling, background prefetch and the copy
onto the device — exactly what the train loop consumes. Prints one JSON line per dataset:
img_per_s, load_s (read and decode the split; cached after the first time), batch.

Photos (`--photos`): streamed JPEGs decoded, random-resized cropped (area 8-100 %, aspect
3/4-4/3) and flipped to 224x224 uint8 in batches of 64, no normalisation, by three
pipelines over the same files, each with `--workers` decoding processes (tf.data: threads)
and the main process collecting batches:

  jcnn         jcnn.data.streaming.batches (Grain worker processes, Pillow with `draft`
               decoding at reduced size where the crop allows it)
  torchvision  DataLoader(ImageFolder, RandomResizedCrop(224), RandomHorizontalFlip(),
               PILToTensor()), torch.set_num_threads(1) in every process; its batches are
               [64, 3, 224, 224], the others' [64, 224, 224, 3]: the same bytes
  tf.data      read_file, sample_distorted_bounding_box (max_attempts 10),
               decode_and_crop_jpeg (a fused crop-decode the other two lack), bilinear
               resize (not antialiased), random flip; num_parallel_calls = workers, a
               private thread pool of `workers` threads, max_intra_op_parallelism 1

The photos are generated, ImageNet's size distribution rather than ImageNet: `--images`
(512) JPEGs of quality 90, width uniform in [250, 550] and height in [200, 500] pixels
(mean 400x350), each a random crop of a scikit-image photo (astronaut, chelsea, coffee,
rocket, stereo_motorcycle: real photos, since noise decodes at atypical speed) resized
to that size, in `train/c00..c09/` (10 classes), written once under `--workdir` (default:
a temporary folder, removed at the end).

Each (pipeline, workers) runs in a fresh process (only its framework imported) that
discards 2 batches (worker start-up included), then counts images for `--seconds`. Its
epoch lists every photo many times (jcnn: `photos.subset`; torchvision: a RandomSampler's
num_samples; tf.data: shuffle, then repeat), so that no worker restarts at an epoch's end
in the timed window, as on ImageNet's 1.28 M photos; a line says `epoch_ended` if its
epoch ran out first. `--rounds` rounds rotate the order of the three; one JSON line per
(pipeline, workers) gives the median and range of the rounds' img/s, per worker (per
core), and `cores_used`: the CPU seconds of the process and its workers per second.

Memory (jcnn only): the resident set (RSS, and PSS, which counts shared pages once) of the
main process and its workers summed, after one epoch of the 1x dataset (`--memory-batches`
at most), for the photos listed once (x1/train.csv) and each listed 10 times
(x10/train.csv: CSV file lists naming the same files; the index holds only names); the
10x line gives the ratios to 1x, and each line the pickled size of the split every worker
is sent.
"""
import argparse
import importlib.metadata
import json
import math
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# Grain's workers start by spawn, which imports this script again: its top imports no
# more than the standard library, so a worker holds what jcnn's own workers hold.
from benchmarks import store  # noqa: E402

DATASETS = ("mnist", "cifar10")

# --- in memory -------------------------------------------------------------------------


def measure(name: str, seconds: float) -> dict:
  from jcnn import data, parallel
  from jcnn.tasks import classification
  from train.configs import lenet5_mnist, resnet20_cifar10
  config = {"mnist": lenet5_mnist, "cifar10": resnet20_cifar10}[name].get_config()
  start = time.perf_counter()
  split = classification.load_split(config, config.train_split)
  load_s = time.perf_counter() - start
  info = classification.dataset_info(config, split)
  mesh = parallel.make_mesh(1)
  images, epoch, start = 0, 0, None
  while True:
    stream = data.prefetch(parallel.put_batch(b, mesh) for b in classification.batches(
        config, split, info, train=True, epoch=epoch))
    for batch in stream:
      batch["image"].block_until_ready()
      if start is None:  # the first batch pays for thread start-up
        start = time.perf_counter()
        continue
      images += batch["image"].shape[0]
      if time.perf_counter() - start > seconds:
        elapsed = time.perf_counter() - start
        return {"dataset": name, "batch": config.batch_size, "img_per_s": round(images / elapsed),
                "crop_padding": config.crop_padding, "flip": config.flip,
                "load_s": round(load_s, 2), "train_examples": len(split)}
    epoch += 1


# --- photos: the files -----------------------------------------------------------------

BATCH, SIZE = 64, 224
PIPELINES = ("jcnn", "torchvision", "tf.data")
SOURCES = ("astronaut", "chelsea", "coffee", "rocket", "stereo_motorcycle")
CLASSES = 10
WIDTHS, HEIGHTS = (250, 550), (200, 500)
QUALITY = 90
WARMUP_BATCHES = 2
# Images per second per worker well above any pipeline's here: it sizes the timed epoch.
CEILING_PER_WORKER = 5000
MEMORY_SCALES = (1, 10)


def make_photos(workdir: pathlib.Path, count: int, seed: int = 0) -> pathlib.Path:
  """Writes (once) `count` JPEGs to <workdir>/photos-<count>-<seed>/train/c<k>/<i>.jpg,
  with x1/train.csv and x10/train.csv listing them once and 10 times; returns the folder.

  Photo i: a box of a scikit-image photo with the aspect of a size drawn from WIDTHS x
  HEIGHTS, of 30-100 % of the largest such box, at a random place, resized to that size
  (Lanczos), mirrored half the time; all from np.random.default_rng([seed, i]).
  """
  from PIL import Image
  from skimage import data as skimage_data
  import numpy as np

  folder = workdir / f"photos-{count}-{seed}"
  if folder.is_dir():  # renamed into place only when complete
    return folder
  partial = workdir / f"{folder.name}.partial"
  shutil.rmtree(partial, ignore_errors=True)
  photos = []
  for name in SOURCES:
    pixels = getattr(skimage_data, name)()
    photos.append(Image.fromarray(pixels[0] if isinstance(pixels, tuple) else pixels))
  rows = []
  for i in range(count):
    rng = np.random.default_rng([seed, i])
    photo = photos[int(rng.integers(len(photos)))]
    width, height = (int(rng.integers(low, high, endpoint=True))
                     for low, high in (WIDTHS, HEIGHTS))
    box_w = min(photo.width, photo.height * width / height) * math.sqrt(rng.uniform(0.3, 1))
    box_h = box_w * height / width
    left, top = rng.uniform(0, photo.width - box_w), rng.uniform(0, photo.height - box_h)
    image = photo.resize((width, height), Image.Resampling.LANCZOS,
                         box=(left, top, left + box_w, top + box_h))
    if rng.random() < 0.5:
      image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    label = f"c{i % CLASSES:02d}"
    (partial / "train" / label).mkdir(parents=True, exist_ok=True)
    image.save(partial / "train" / label / f"{i:06d}.jpg", quality=QUALITY)
    rows.append(f"../train/{label}/{i:06d}.jpg,{label}\n")
  for scale in MEMORY_SCALES:
    (partial / f"x{scale}").mkdir()
    (partial / f"x{scale}" / "train.csv").write_text("file,label\n" + "".join(rows * scale))
  partial.rename(folder)
  return folder


def _photo_files(folder: pathlib.Path) -> list[str]:
  """Every photo of the training split, by absolute path, sorted."""
  return sorted(str(p) for p in (folder / "train").glob("*/*.jpg"))


# --- photos: the three pipelines, each yielding image batches ---------------------------


def _jcnn(folder: pathlib.Path, workers: int, repeats: int):
  import numpy as np
  from jcnn.data import photos, streaming
  index = photos.index_photos(folder, "train")
  assert sorted(os.path.join(index.root, f) for f in index.files) == _photo_files(folder)
  split = streaming.PhotoSplit(photos.subset(index, np.tile(np.arange(len(index)), repeats)),
                               size=SIZE)
  for batch in streaming.batches(split, BATCH, train=True, workers=workers, normalise=False):
    yield batch["image"]


def _one_thread(_):
  import torch
  torch.set_num_threads(1)


def _torchvision(folder: pathlib.Path, workers: int, repeats: int):
  from tests.pretrained_sources import import_torchvision  # the one torchvision bypass
  torchvision = import_torchvision()
  import torch
  from torchvision import transforms
  torch.set_num_threads(1)
  dataset = torchvision.datasets.ImageFolder(folder / "train", transform=transforms.Compose([
      transforms.RandomResizedCrop(SIZE), transforms.RandomHorizontalFlip(),
      transforms.PILToTensor()]))
  assert sorted(path for path, _ in dataset.samples) == _photo_files(folder)
  # shuffle=True's sampler, its epoch lengthened (see the module's docstring).
  sampler = torch.utils.data.RandomSampler(dataset, num_samples=len(dataset) * repeats)
  loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, sampler=sampler,
                                       num_workers=workers, persistent_workers=False,
                                       worker_init_fn=_one_thread, drop_last=True)
  for images, _ in loader:
    yield images.numpy()


def _tf_data(folder: pathlib.Path, workers: int, repeats: int):
  import tensorflow as tf
  files = sorted(tf.io.gfile.glob(str(folder / "train" / "*" / "*.jpg")))
  assert files == _photo_files(folder)
  classes = sorted({pathlib.Path(f).parent.name for f in files})
  labels = [classes.index(pathlib.Path(f).parent.name) for f in files]

  def example(path, label):
    data = tf.io.read_file(path)
    begin, size, _ = tf.image.sample_distorted_bounding_box(
        tf.io.extract_jpeg_shape(data), tf.zeros([0, 0, 4], tf.float32),
        min_object_covered=0.0, aspect_ratio_range=(3 / 4, 4 / 3), area_range=(0.08, 1.0),
        max_attempts=10, use_image_if_no_bounding_boxes=True)
    top, left, _ = tf.unstack(begin)
    height, width, _ = tf.unstack(size)
    image = tf.image.decode_and_crop_jpeg(data, tf.stack([top, left, height, width]),
                                          channels=3)
    image = tf.image.resize(image, [SIZE, SIZE], method="bilinear")
    image = tf.image.random_flip_left_right(tf.saturate_cast(tf.round(image), tf.uint8))
    return image, label

  options = tf.data.Options()
  options.threading.private_threadpool_size = workers
  options.threading.max_intra_op_parallelism = 1
  dataset = (tf.data.Dataset.from_tensor_slices((files, labels))
             .shuffle(len(files), reshuffle_each_iteration=True).repeat(repeats)
             .map(example, num_parallel_calls=workers)
             .batch(BATCH, drop_remainder=True).prefetch(2).with_options(options))
  for images, _ in dataset:
    yield images.numpy()


BUILDERS = {"jcnn": _jcnn, "torchvision": _torchvision, "tf.data": _tf_data}
SHAPES = {"jcnn": (BATCH, SIZE, SIZE, 3), "torchvision": (BATCH, 3, SIZE, SIZE),
          "tf.data": (BATCH, SIZE, SIZE, 3)}


# --- photos: measuring, in a child process ---------------------------------------------


def _tree():
  """This process and its descendants (workers, Grain's resource tracker), as psutil
  (which comes with orbax-checkpoint and tensorflow-datasets) sees them."""
  import psutil
  me = psutil.Process()
  return [me, *me.children(recursive=True)]


def _cpu_s() -> float:
  import psutil
  total = 0.0
  for process in _tree():
    try:
      times = process.cpu_times()
    except psutil.NoSuchProcess:
      continue
    total += times.user + times.system
  return total


def _memory_mb() -> dict:
  """RSS and PSS of the process tree, summed, in MB; and how many processes."""
  import psutil
  rss = pss = count = 0
  for process in _tree():
    try:
      info = process.memory_full_info()
    except psutil.NoSuchProcess:
      continue
    rss, pss, count = rss + info.rss, pss + info.pss, count + 1
  return {"rss_mb": round(rss / 2**20, 1), "pss_mb": round(pss / 2**20, 1), "processes": count}


def _throughput(pipeline: str, folder: pathlib.Path, workers: int, repeats: int,
                seconds: float) -> dict:
  batches = BUILDERS[pipeline](folder, workers, repeats)
  first = next(batches)
  if first.shape != SHAPES[pipeline] or first.dtype.name != "uint8":
    raise AssertionError(f"{pipeline}: a batch of {first.dtype.name} {first.shape}, expected "
                         f"uint8 {SHAPES[pipeline]}")
  for _ in range(WARMUP_BATCHES - 1):
    next(batches)
  images, epoch_ended = 0, True
  cpu, start = _cpu_s(), time.perf_counter()
  for batch in batches:
    images += len(batch)
    if time.perf_counter() - start >= seconds:
      epoch_ended = False
      break
  elapsed, cpu = time.perf_counter() - start, _cpu_s() - cpu
  batches.close()
  return {"img_per_s": images / elapsed, "cores_used": cpu / elapsed, "images": images,
          "epoch_ended": epoch_ended}


def _memory(folder: pathlib.Path, workers: int, scale: int, max_batches: int) -> dict:
  import pickle
  from jcnn.data import photos, streaming
  split = streaming.PhotoSplit(photos.index_photos(folder / f"x{scale}", "train"), size=SIZE)
  before = _memory_mb()
  batches = min(max_batches, len(split) // scale // BATCH)  # one epoch of the 1x dataset
  peak = 0.0
  stream = streaming.batches(split, BATCH, train=True, workers=workers, normalise=False)
  for _ in zip(range(batches), stream):
    peak = max(peak, _memory_mb()["rss_mb"])
  after = _memory_mb()
  stream.close()
  return {"photos": len(split), "batches": batches, **after, "peak_rss_mb": peak,
          "rss_before_mb": before["rss_mb"], "split_pickle_bytes": len(pickle.dumps(split))}


def _child(spec: dict) -> dict:
  folder = pathlib.Path(spec["folder"])
  if spec["job"] == "memory":
    return _memory(folder, spec["workers"], spec["scale"], spec["batches"])
  return _throughput(spec["pipeline"], folder, spec["workers"], spec["repeats"],
                     spec["seconds"])


def _run_child(spec: dict) -> dict:
  """`_child(spec)` in a fresh python: its JSON line."""
  start = time.perf_counter()
  proc = subprocess.run([sys.executable, __file__, "--photos", "--child", json.dumps(spec)],
                        cwd=REPO, capture_output=True, text=True,
                        env={"TF_CPP_MIN_LOG_LEVEL": "2", **os.environ})
  if proc.returncode:
    sys.exit(f"input_pipeline.py: {spec} failed:\n{proc.stderr[-3000:]}")
  result = json.loads(proc.stdout.strip().splitlines()[-1])
  shown = {k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()}
  what = spec.get("pipeline") or f"jcnn memory at {spec['scale']}x"
  print(f"{what}, {spec['workers']} workers: {shown} "
        f"({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
  return result


# --- photos: the run -------------------------------------------------------------------


def _versions() -> dict:
  versions = {}
  for package in ("grain", "pillow", "torch", "torchvision", "tensorflow-cpu", "tensorflow"):
    try:
      versions[package] = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
      pass
  return versions


def _spread(values: list[float]) -> tuple[int, list[int]]:
  """The median and [min, max], rounded."""
  return round(statistics.median(values)), [round(min(values)), round(max(values))]


def measure_photos(args, folder: pathlib.Path):
  """Emits one line per (pipeline, workers), then one per memory measurement."""
  common = {"source": "photos", "dataset": "generated_photos", "batch": BATCH, "size": SIZE,
            "versions": _versions()}
  repeats = math.ceil((WARMUP_BATCHES * BATCH + args.seconds * CEILING_PER_WORKER
                       * max(args.workers)) / args.images)
  runs = {(p, w): [] for w in args.workers for p in args.pipelines}
  for round_ in range(args.rounds):
    turn = round_ % len(args.pipelines)
    for workers in args.workers:
      for pipeline in args.pipelines[turn:] + args.pipelines[:turn]:
        runs[pipeline, workers].append(_run_child(
            {"job": "throughput", "pipeline": pipeline, "folder": str(folder),
             "workers": workers, "repeats": repeats, "seconds": args.seconds}))
  medians = {key: statistics.median(r["img_per_s"] for r in rounds)
             for key, rounds in runs.items()}
  for (pipeline, workers), rounds in runs.items():
    img_per_s, img_range = _spread([r["img_per_s"] for r in rounds])
    line = {"pipeline": pipeline, "workers": workers, "img_per_s": img_per_s,
            "img_per_s_range": img_range,
            "img_per_s_per_worker": round(img_per_s / workers),
            "round_img_per_s": [round(r["img_per_s"]) for r in rounds],
            "cores_used": round(statistics.median(r["cores_used"] for r in rounds), 2),
            "epoch_ended": any(r["epoch_ended"] for r in rounds), "photos": args.images,
            "seconds": args.seconds, "rounds": args.rounds, **common}
    others = {p: medians[p, workers] for p in args.pipelines if p != "jcnn"}
    if pipeline == "jcnn" and others:
      best = max(others, key=others.get)
      line.update(faster_other=best,
                  vs_faster_other=round(medians[pipeline, workers] / others[best], 3))
    store.emit(line)
  if "jcnn" not in args.pipelines or not args.memory_batches:
    return
  for workers in args.workers:
    base = None
    for scale in MEMORY_SCALES:
      result = _run_child({"job": "memory", "folder": str(folder), "workers": workers,
                           "scale": scale, "batches": args.memory_batches})
      line = {"pipeline": "jcnn", "measure": "memory", "workers": workers, "scale": scale,
              **result, **common}
      if base is None:
        base = result
      else:
        line.update(rss_ratio=round(result["rss_mb"] / base["rss_mb"], 3),
                    pss_ratio=round(result["pss_mb"] / base["pss_mb"], 3))
      store.emit(line)


def photos_main(args):
  if args.images < BATCH:
    sys.exit(f"input_pipeline.py: --images must be at least one batch ({BATCH}), "
             f"got {args.images}")
  unknown = [p for p in args.pipelines if p not in PIPELINES]
  if unknown or min(args.workers) < 1:
    sys.exit(f"input_pipeline.py: pipelines are {', '.join(PIPELINES)} and workers >= 1, "
             f"got --pipelines {','.join(args.pipelines)} --workers {args.workers}")
  if args.workdir:
    workdir = pathlib.Path(args.workdir).resolve()  # the children run in the checkout
    workdir.mkdir(parents=True, exist_ok=True)
    measure_photos(args, make_photos(workdir, args.images))
    return
  with tempfile.TemporaryDirectory(prefix="input_pipeline_") as workdir:
    measure_photos(args, make_photos(pathlib.Path(workdir).resolve(), args.images))


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--datasets", default="mnist,cifar10", help="in memory: which")
  p.add_argument("--seconds", type=float, default=None,
                 help="measuring time per run (in memory: 10; photos: 20)")
  photos = p.add_argument_group("photos")
  photos.add_argument("--photos", action="store_true",
                      help="streamed JPEGs: jcnn against torchvision and tf.data")
  photos.add_argument("--images", type=int, default=512, help="photos generated")
  photos.add_argument("--workers", type=int, nargs="+", default=[1, 2])
  photos.add_argument("--rounds", type=int, default=3)
  photos.add_argument("--pipelines", type=lambda s: s.split(","), default=list(PIPELINES),
                      help=f"comma-separated, of {','.join(PIPELINES)}")
  photos.add_argument("--memory-batches", type=int, default=8,
                      help="batches before the memory is read (0: no memory measurement)")
  photos.add_argument("--workdir", help="where the photos are written once (default: a "
                      "temporary folder)")
  photos.add_argument("--child", help=argparse.SUPPRESS)
  store.add_save_flag(p, "input_pipeline.jsonl")
  args = p.parse_args(argv)
  if args.child:
    print(json.dumps(_child(json.loads(args.child))), flush=True)
    return
  store.save_to(args.save)
  if args.photos:
    args.seconds = 20.0 if args.seconds is None else args.seconds
    photos_main(args)
    return
  from jcnn import runtime
  runtime.configure(compile_cache=None)
  for name in args.datasets.split(","):
    if name not in DATASETS:
      sys.exit(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    store.emit(measure(name, 10.0 if args.seconds is None else args.seconds))


if __name__ == "__main__":
  main()
