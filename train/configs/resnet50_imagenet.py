"""ResNet-50 on ImageNet with torchvision's reference recipe (He et al. 2016, §3.4).

    JCNN_DATA_DIR=<data> python -m train --config train/configs/resnet50_imagenet.py \\
        --config.dtype=bfloat16

Data: needs ImageNet prepared in `$JCNN_DATA_DIR/imagenet2012` as `train/<wnid>/*.JPEG`
and `val/<wnid>/*.JPEG` (ImageNet's own train layout; the validation images sorted into
class folders, e.g. by the `valprep.sh` script the PyTorch ImageNet example links to),
and a GPU. The 1,000 classes are the folder's (`--config.data_dir=<folder>` reads another
copy). Photos are streamed: decoded and augmented per batch by one worker process per
core but one (`data_workers=-1`), never all in memory. float32 by default; on a GPU
bfloat16 (`--config.dtype=bfloat16`, as in the command) is the fast choice.

Recipe: torchvision's reference recipe for ResNet-50 (references/classification, whose
IMAGENET1K_V1 weights it trained): SGD with momentum 0.9, batch 256, lr 0.1 divided by 10
at epochs 30 and 60, 90 epochs (5,004 steps an epoch, 450,360 in all), weight decay 1e-4
on every parameter (PyTorch's SGD decays BatchNorm's scales and offsets and the biases
too), no dropout, random-resized crops to 224 (area 8-100 %, aspect 3/4-4/3) and
horizontal flips; evaluation on the centre 224 crop of the shorter side resized to 256.
A checkpoint and an evaluation of the 50,000 validation images once an epoch. The
boundaries are steps for batch 256: another --config.batch_size needs
--config.boundaries too. Where this differs from the paper's §3.4:
  - the paper resizes the shorter side to a random S in [256, 480] and takes random 224
    crops, with AlexNet's colour augmentation (PCA lighting); jcnn's closest,
    `--config.train_crop=vgg_jitter --config.lighting=0.1`, draws S in [256, 512];
  - the paper divides the rate by 10 when the error plateaus, for up to 600,000
    iterations (120 epochs): torchvision's fixed 30/60/90 epochs stand in for it;
  - `resnet50` is torchvision's "v1.5", stride 2 on each bottleneck's 3×3 conv, as
    torchvision's weights are; the paper strides the first 1×1 (model_kwargs
    stride_in_1x1=True);
  - the paper tests on ten crops (Table 3) and fully convolutionally at several scales
    (Table 4); jcnn evaluates the single centre crop.

Expected: about 76 % top-1 on the 50,000 validation images: torchvision's
ResNet50_Weights.IMAGENET1K_V1, trained with this recipe, reach 76.13 % top-1 and
92.862 % top-5 on the centre crop (torchvision's model documentation). The paper reports
ResNet-50 top-1 error 22.85 % and top-5 error 6.71 % with 10-crop testing (77.15 % /
93.29 %; He et al. 2016, Table 3). Not trained with jcnn yet.

Time: not measured. Estimate: 90 epochs are 115.3M images. The bare bfloat16 train
step runs 6,272 img/s at batch 256 on one H200 (benchmarks/README.md); on one H100 the
bound is decoding and cropping the JPEGs on its 15 worker cores, about 2,500 img/s if
each manages ~170 photos a second: about 13 h, plus ~30 s for each of the 90
evaluations, so 13-14 h. A 2-core CPU is not feasible: at ~3 img/s (resnet18 fine-tuned
at 4 img/s on one thread, finetune_resnet18_photos.py; ResNet-50 has 2.3× its
multiply-adds) the 90 epochs take over a year, ~800× the GPU's time.
"""
import os

from train.configs import default

IMAGENET_TRAIN_IMAGES = 1_281_167   # ILSVRC-2012's training set


def imagenet_dir() -> str:
  """$JCNN_DATA_DIR/imagenet2012; "" without JCNN_DATA_DIR, which validation refuses
  with one line naming data_dir."""
  root = os.environ.get("JCNN_DATA_DIR")
  return os.path.join(root, "imagenet2012") if root else ""


def epochs_to_steps(epochs, batch_size: int) -> tuple[int, ...]:
  """The steps at which `epochs` (of ImageNet's training set at `batch_size`) end."""
  return tuple(e * (IMAGENET_TRAIN_IMAGES // batch_size) for e in epochs)


def imagenet_base(name: str, model: str, batch_size: int, num_epochs: int):
  """What the ImageNet configs share: the streamed folder, its splits at 224, flips, SGD
  with momentum 0.9 and a rate divided by 10 at fixed steps (the config sets them)."""
  c = default.base()
  c.name = name
  c.model = model
  c.dataset = "image_folder"
  c.data_dir = imagenet_dir()
  c.train_split = "train"
  c.eval_split = "val"
  c.image_size = 224
  c.flip = True
  c.data_workers = -1
  c.batch_size = batch_size
  c.num_epochs = num_epochs
  c.optimizer = "momentum"
  c.momentum = 0.9
  c.schedule = "step"
  c.decay_factor = 0.1
  c.log_every_steps = 100
  return c


def get_config():
  c = imagenet_base("resnet50_imagenet", "resnet50", batch_size=256, num_epochs=90)
  c.train_crop = "inception_crop"
  c.learning_rate = 0.1
  c.boundaries = epochs_to_steps((30, 60), c.batch_size)
  c.weight_decay = 1e-4
  c.weight_decay_subset = "all"
  return c
