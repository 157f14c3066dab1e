"""VGG-16 (configuration D) on ImageNet with the paper's recipe (Simonyan & Zisserman
2015, §3.1).

    JCNN_DATA_DIR=<data> python -m train --config train/configs/vgg16_imagenet.py \\
        --config.dtype=bfloat16

Data: needs ImageNet prepared in `$JCNN_DATA_DIR/imagenet2012` as `train/<wnid>/*.JPEG`
and `val/<wnid>/*.JPEG` (ImageNet's own train layout; the validation images sorted into
class folders, e.g. by the `valprep.sh` script the PyTorch ImageNet example links to),
and a GPU. The 1,000 classes are the folder's (`--config.data_dir=<folder>` reads another
copy). Photos are streamed: decoded and augmented per batch by one worker process per
core but one (`data_workers=-1`), never all in memory. float32 by default; on a GPU
bfloat16 (`--config.dtype=bfloat16`, as in the command) is the fast choice.

Recipe: the paper's (§3.1): SGD with momentum 0.9, batch 256, weight decay 5e-4, lr 0.01
divided by 10 three times, 74 epochs (5,004 steps an epoch, 370,296 in all: the paper's
370K iterations), dropout 0.5 on the first two FC layers (the model's own), multi-scale
training (`vgg_jitter`: the shorter side resized to a random S in [256, 512], a random
224 crop), horizontal flips and AlexNet's PCA colour lighting with σ 0.1 (the paper's
"random RGB colour shift"). Evaluation on the centre 224 crop of the shorter side
resized to 256 (`eval_resize=256`). A checkpoint and an evaluation of the 50,000
validation images once an epoch. Where this differs from the paper:
  - the paper divides the rate by 10 whenever the validation accuracy stops improving;
    fixed drops at epochs 25, 50 and 65 stand in for that (about the fractions of the
    run at which alexnet_imagenet.py drops; steps for batch 256: another
    --config.batch_size needs --config.boundaries too);
  - the paper initialises D's first four convolutions and last three dense layers from
    its trained configuration A and fine-tunes its multi-scale models from one trained
    at S = 384; `vgg16` starts from torchvision's initialisation (He normal convolutions,
    N(0, 0.01) dense kernels), from scratch, as torchvision trained it (the paper notes
    that Glorot & Bengio's random initialisation works without pre-training);
  - weight decay on the kernels only (--config.weight_decay_subset=all for every weight);
  - the paper evaluates the whole image densely, the dense layers as convolutions, at
    test scales Q; jcnn evaluates the single centre crop at 256.

Expected: for configuration D trained with S in [256, 512], the paper reports top-1 error
25.6 % and top-5 error 8.1 % at the single test scale Q = 384 (74.4 % / 91.9 %;
Simonyan & Zisserman 2015, Table 3), and 24.8 % / 7.5 % over the three scales Q = 256,
384, 512 (Table 4). For this network and one centre crop, torchvision's
VGG16_Weights.IMAGENET1K_V1 (random-resized crops, 90 epochs, the rate divided by 10 every
30) reach 71.592 % top-1 and 90.382 % top-5 (torchvision's model documentation). Not
trained with jcnn yet.

Time: not measured. Estimate: 74 epochs are 94.8M images. At 15.5 G multiply-adds an
image (3.8× ResNet-50's) the step is the bound: at the utilisation ResNet-50's bfloat16
step reaches on one H200 (15.6 % of the bf16 peak, benchmarks/README.md), about 1,600
img/s; on one H100 say ~1,500 img/s, about 18 h, plus ~40 s for each of the 74
evaluations. A 2-core CPU is not feasible: at ~0.8 img/s (vgg11_bn_cifar10.py trains 1.65
img/s at 224×224, with half VGG-16's multiply-adds) the 74 epochs take nearly four years,
~1,800× the GPU's time.
"""
from train.configs.resnet50_imagenet import epochs_to_steps, imagenet_base


def get_config():
  c = imagenet_base("vgg16_imagenet", "vgg16", batch_size=256, num_epochs=74)
  c.train_crop = "vgg_jitter"
  c.lighting = 0.1
  c.eval_resize = 256
  c.learning_rate = 0.01
  c.boundaries = epochs_to_steps((25, 50, 65), c.batch_size)
  c.weight_decay = 5e-4
  return c
