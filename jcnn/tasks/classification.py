"""Image classification: a registry model, cross-entropy, top-1 / top-5.

The dataset info of a run records what its training split implied (image shape,
class names, normalisation), so a checkpoint is always evaluated with the model and
preprocessing it was trained with.

Fine-tuning: `init_from` starts the network from another classification run of the same
model (an ImageNet network from `jcnn.pretrained` too), whose normalisation it keeps;
`init_exclude` names what starts fresh instead (the head, for other classes).
`freeze`, `lr_multipliers` and AdamW are the optimizer's (`jcnn.optim`).
"""
from typing import Callable, Iterator

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import Mesh

from jcnn import data, losses, metrics, models, parallel, runs
from jcnn.data import photos, streaming, transforms
from jcnn.evaluators.classification import ClassificationEvaluator
from jcnn.state import TrainState
from jcnn.tasks import base, init_from


class Classification(base.Task):
  name = "classification"
  identity = ("resize", "pad", "image_size")

  def fields(self) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.resize = 0                 # resize images to resize×resize (0: keep)
    c.pad = 0                    # zero-pad each side (MNIST 28 -> 32 for LeNet-5: 2)
    c.crop_padding = 0           # augmentation: pad-and-random-crop by this many pixels
    c.flip = False               # augmentation: random horizontal flip
    c.label_smoothing = 0.0
    # Photos of any size, streamed (dataset=image_folder; jcnn.data.streaming): each photo
    # decoded and cropped to image_size² per batch by worker processes, never all in memory.
    # resize and pad are the in-memory path's; a streamed run uses crop_padding for pad_crop.
    c.image_size = 0             # the examples' side (0: the in-memory path above)
    c.train_crop = "inception_crop"  # inception_crop: area 8-100 %, aspect 3/4-4/3 (GoogLeNet
                                 # §6, Inception v3); alexnet_crop: shorter side 256, random
                                 # 224 crops (AlexNet §4.1); vgg_jitter: shorter side in
                                 # [256, 512], random crop (VGG §3.1); resize_crop; pad_crop:
                                 # crop_padding zeros, random crop (CIFAR ResNets, He et al.
                                 # 2016 §4.2); the sides scale with image_size / 224
    c.lighting = 0.0             # AlexNet's PCA colour lighting σ (the paper: 0.1); 0: off
    c.eval_resize = 0            # evaluation: shorter side before the centre crop (0:
                                 # image_size / 0.875, i.e. 256 -> 224 as torchvision)
    c.data_workers = -1          # processes decoding photos (-1: one per core but one)
    c.bad_files = "stop"         # a photo that does not decode: "stop" (one line naming it)
                                 # or "skip" it (one warning line naming it)
    c.update(init_from.fields())
    return c

  def validate(self, config: ml_collections.ConfigDict) -> None:
    models.info(config.model)
    base.check_fields(config, [
        ("label_smoothing", 0 <= config.label_smoothing < 1, "must be in [0, 1)"),
        ("resize", config.resize >= 0, "must be >= 0 (0: keep)"),
        ("pad", config.pad >= 0, "must be >= 0"),
        ("crop_padding", config.crop_padding >= 0, "must be >= 0"),
        ("image_size", config.image_size >= 0, "must be >= 0 (0: in memory)"),
    ])
    if config.image_size:
      _validate_streaming(config)
    init_from.validate(config)

  def model(self, config: ml_collections.ConfigDict, dataset_info: dict) -> nn.Module:
    return models.create(config.model, num_classes=len(dataset_info["class_names"]),
                         **config.model_kwargs)

  def training(self, config: ml_collections.ConfigDict, mesh: Mesh,
               run=None) -> base.Training:
    train_split = load_split(config, config.train_split)
    pretrained = (init_from.load_checked(config, train_split.image_shape[-1],
                                         same_kwargs=True) if config.init_from else None)
    info = dataset_info(config, train_split, pretrained)
    eval_split = load_split(config, config.eval_split)
    model = self.model(config, info)
    evaluator = ClassificationEvaluator(
        base.apply_fn(config, model),
        lambda: batches(config, eval_split, info, train=False, mesh=mesh),
        num_classes=len(info["class_names"]), mesh=mesh)
    return base.Training(
        dataset_info=info, num_examples=len(train_split), model=model,
        train_step=train_step(config, info),
        # Streamed photos cross to the device as uint8 (a quarter of float32's bytes) and
        # are normalised there, in the step.
        batches=lambda epoch, start: batches(config, train_split, info, train=True,
                                             epoch=epoch, start_batch=start, mesh=mesh,
                                             as_uint8=True),
        evaluators=(evaluator,), progress=("loss", "top1"),
        init_variables=None if pretrained is None else (
            lambda variables: init_from.all_but_excluded(variables, pretrained, config)))

  def load_split(self, config: ml_collections.ConfigDict, split: str) -> data.Split:
    return load_split(config, split)

  def batches(self, config: ml_collections.ConfigDict, dataset_info: dict, split: data.Split,
              *, train: bool, epoch: int = 0, start_batch: int = 0,
              mesh: Mesh | None = None) -> Iterator[dict]:
    return batches(config, split, dataset_info, train=train, epoch=epoch,
                   start_batch=start_batch, mesh=mesh)

  def evaluator(self, run: runs.Run, restored: base.Restored, split: data.Split,
                name: str = "eval") -> ClassificationEvaluator:
    """Top-1, top-5 and loss on `split`, refused unless its images have the shape the
    run was trained on."""
    info = run.dataset_info
    if tuple(split.image_shape) != tuple(info["image_shape"]):
      raise ValueError(f"split {split.split!r} has images {split.image_shape}, the "
                       f"model was trained on {tuple(info['image_shape'])}")
    return ClassificationEvaluator(
        restored.apply,
        lambda: batches(run.config, split, info, train=False, mesh=restored.mesh),
        num_classes=len(info["class_names"]), mesh=restored.mesh, name=name)


def _validate_streaming(config: ml_collections.ConfigDict) -> None:
  base.check_fields(config, [
      ("dataset", config.dataset == "image_folder",
       "must be image_folder to stream photos (image_size > 0)"),
      ("data_dir", bool(config.data_dir), "must name the photos' folder, .zip, .tar or .csv "
       "(the shipped ImageNet configs read $JCNN_DATA_DIR/imagenet2012)"),
      ("train_crop", config.train_crop in transforms.TRAIN_RECIPES,
       f"must be one of {', '.join(transforms.TRAIN_RECIPES)}"),
      ("lighting", config.lighting >= 0, "must be >= 0 (0: off)"),
      ("eval_resize", config.eval_resize == 0 or config.eval_resize >= config.image_size,
       "must be 0 or at least image_size"),
      ("data_workers", config.data_workers >= -1, "must be >= 0, or -1 (one per core but one)"),
      ("bad_files", config.bad_files in streaming.BAD_FILE_POLICIES,
       f"must be one of {', '.join(streaming.BAD_FILE_POLICIES)}"),
  ])


def load_split(config: ml_collections.ConfigDict, split: str) -> data.Split | streaming.PhotoSplit:
  """Loads `split` of the config's dataset, cuts it to the configured size, resizes/pads;
  with `image_size`, indexes its photos to stream them instead.

  `train_examples` applies to `train_split` and `eval_examples` to `eval_split` (0:
  the whole split); cutting before the resize keeps an upsampled subset from costing
  the whole split's memory.
  """
  limit = {config.train_split: config.train_examples,
           config.eval_split: config.eval_examples}.get(split, 0)
  if config.image_size:
    index = photos.index_photos(config.data_dir, split)
    if limit:
      index = photos.subset(index, data.balanced_indices(index.labels, limit,
                                                         f"{index.name}/{split}"))
    return streaming.PhotoSplit(index, config.image_size, recipe=config.train_crop,
                                flip=config.flip, lighting=config.lighting,
                                padding=config.crop_padding, eval_resize=config.eval_resize,
                                bad_files=config.bad_files)
  raw = data.load(config.dataset, split, data_dir=config.data_dir or None)
  if limit:
    raw = data.balanced_subset(raw, limit)
  return data.prepare(raw, resize=config.resize or None, pad=config.pad)


def dataset_info(config: ml_collections.ConfigDict, train_split: data.Split,
                 pretrained: dict | None = None) -> dict:
  """What evaluation must know about the training data: shape, classes, statistics (a
  pre-trained network's own: its first layer's weights expect them)."""
  if pretrained is not None:
    mean, std = pretrained["info"]["mean"], pretrained["info"]["std"]
  elif isinstance(train_split, streaming.PhotoSplit):  # photos: ImageNet's, as is usual
    mean, std = data.IMAGENET_MEAN, data.IMAGENET_STD
  elif config.dataset in data.DATASET_STATS:
    mean, std = data.DATASET_STATS[config.dataset]
  else:
    mean, std = data.channel_stats(train_split)
  return {"image_shape": list(train_split.image_shape),
          "class_names": list(train_split.class_names),
          "mean": np.atleast_1d(mean).tolist(), "std": np.atleast_1d(std).tolist()}


def batches(config: ml_collections.ConfigDict, split: data.Split, info: dict, *,
            train: bool, epoch: int = 0, start_batch: int = 0,
            mesh: Mesh | None = None, as_uint8: bool = False) -> Iterator[dict]:
  """Batches of `split` as the config asks: augmented and shuffled when training.

  With `mesh`, only this process's rows of each batch (`parallel.local_rows`). With
  `as_uint8`, streamed photos come as uint8 pixels, for `train_step` to normalise.
  """
  size = config.batch_size if train else config.eval_batch_size
  mean, std = np.asarray(info["mean"], np.float32), np.asarray(info["std"], np.float32)
  if isinstance(split, streaming.PhotoSplit):
    workers = streaming.default_workers() if config.data_workers < 0 else config.data_workers
    return streaming.batches(split, size, train=train, rows=parallel.local_rows(mesh, size),
                             seed=config.seed, epoch=epoch, start_batch=start_batch,
                             workers=workers, mean=mean, std=std, normalise=not as_uint8)
  return data.batches(
      split, size, train=train, rows=parallel.local_rows(mesh, size),
      seed=config.seed, epoch=epoch, start_batch=start_batch,
      crop_padding=config.crop_padding if train else 0, flip=config.flip and train,
      mean=mean, std=std)


def normalise_on_device(images, info: dict | None):
  """uint8 pixels as the model's input, (x / 255 - mean) / std in float32, inside the
  step; anything else (float images normalised on the host, R-CNN's dict of windows)
  passes unchanged."""
  if getattr(images, "dtype", None) != jnp.uint8:
    return images
  if info is None:
    raise ValueError("uint8 images need the dataset info's mean and std to normalise them")
  mean = jnp.asarray(info["mean"], jnp.float32)
  std = jnp.asarray(info["std"], jnp.float32)
  return (images.astype(jnp.float32) / 255 - mean) / std


def train_step(config: ml_collections.ConfigDict, info: dict | None = None) -> Callable:
  """Returns `train_step(state, batch) -> (state, metrics)` for a classifier.

  The loss is cross-entropy (with optional label smoothing), plus each auxiliary
  classifier's cross-entropy times the model's `aux_loss_weight` (GoogLeNet: 0.3), plus
  `weight_decay * l2_penalty(params, weight_decay_subset)`. Dropout draws from the
  state's key folded with the step number. uint8 images are normalised here with
  `info`'s mean and std (streamed photos); float ones arrive normalised.
  """
  aux_weight = models.info(config.model).aux_loss_weight

  def loss_fn(params, state: TrainState, batch):
    variables = {"params": params}
    mutable = []
    if state.batch_stats:
      variables["batch_stats"] = state.batch_stats
      mutable = ["batch_stats"]
    images = normalise_on_device(batch["image"], info)
    outputs, updates = state.apply_fn(variables, images, train=True,
                                      rngs={"dropout": state.step_rng()}, mutable=mutable)
    logits, aux_logits = models.unpack_outputs(outputs)
    cross_entropy = lambda z: losses.softmax_cross_entropy(
        z, batch["label"], label_smoothing=config.label_smoothing)
    ce = cross_entropy(logits)
    loss = ce + sum(aux_weight * cross_entropy(z) for z in aux_logits)
    if config.weight_decay:
      loss += config.weight_decay * losses.l2_penalty(params, config.weight_decay_subset)
    return loss, (ce, logits, updates)

  def step(state: TrainState, batch: dict):
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (loss, (ce, logits, updates)), grads = grad_fn(state.params, state, batch)
    new_state = state.apply_gradients(
        grads=grads, batch_stats=updates.get("batch_stats", state.batch_stats))
    return new_state, {"loss": ce, "total_loss": loss,
                       "top1": metrics.topk_accuracy(logits, batch["label"], k=1)}

  return step

