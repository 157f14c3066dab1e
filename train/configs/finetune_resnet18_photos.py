"""ResNet-18 pre-trained on ImageNet (torchvision's weights) fine-tuned on a folder of photos.

    python -m eval import-weights --source torchvision --file resnet18-f37072fd.pth \\
        --model resnet18 --workdir runs/resnet18_torchvision
    python -m train --config train/configs/finetune_resnet18_photos.py \\
        --config.data_dir=<photos> --config.train_examples=0 --config.eval_examples=0

Data: an image folder or zip, `train/<class>/<photo>` and `test/<class>/<photo>`
(`--config.data_dir`), resized to 224×224, the size the weights were trained at. The
image_folder reader stacks a split into one array and refuses photos of several sizes:
bring them to one size first (e.g. 256×256; the resize to 224 then changes the aspect
ratio of none). Without `--config.data_dir` it reads CIFAR-10 from the shared data
(<JCNN_DATA_DIR>/cifar10/cifar10_jpeg_q75.zip, 32×32 JPEG q75 upsampled), cut to the
first 5,000 training and 1,000 test images: at 224×224 a split is held in memory as
150 kB per image (all 50,000 would take 7.5 GB).

Recipe, the usual transfer-learning one: `--config.init_from` names the ImageNet run
(default: the one the import command above writes); every layer is copied from it but
the 1,000-way `fc`, which starts fresh for the folder's classes (`init_exclude`), and
the inputs are normalised with ImageNet's statistics, as the weights expect. AdamW
(decoupled weight decay 0.01, PyTorch's default, on the kernels) at lr 1e-3 for the
head and 1e-4 for the backbone (`lr_multipliers`), one epoch of linear warm-up, then
cosine decay; batch 64, 5 epochs, random horizontal flips and ±16-pixel shifts. Nothing
is frozen: `--config.freeze='^(conv1|bn1|stage[1-3])'` trains only the last stage and
the head, its batch norms on their ImageNet statistics (`freeze_batch_stats`).

Expected: not measured yet (issue 33, item 5). Time: a 2-step smoke run of this config
on CIFAR-10 (2026-12-07, from torchvision's resnet18 imported as above) trained at
4 img/s on one thread of a shared 2-core CPU (XLA single-threaded, 23 s of compilation):
the 25,000 training images of 5 epochs would take about 1 h 45 min there, plus five
evaluations of 1,000 images. A GPU is the place for it; not timed on one.
"""
from train.configs import default, resnet20_cifar10


def get_config():
  c = default.base()
  c.name = "finetune_resnet18_photos"
  c.model = "resnet18"
  c.init_from = "runs/resnet18_torchvision"
  c.init_exclude = "^fc/"
  c.dataset = "image_folder"
  c.data_dir = resnet20_cifar10.cifar10_zip()
  c.train_examples = 5000
  c.eval_examples = 1000
  c.resize = 224
  c.flip = True
  c.crop_padding = 16
  c.batch_size = 64
  c.eval_batch_size = 200
  c.num_epochs = 5
  c.optimizer = "adamw"
  c.adamw_weight_decay = 0.01
  c.learning_rate = 1e-3
  c.lr_multipliers = ("^(conv1|bn1|stage)=0.1",)
  c.schedule = "cosine"
  c.warmup_epochs = 1.0
  c.log_every_steps = 10
  return c
