"""AlexNet on ImageNet with the paper's recipe (Krizhevsky et al. 2012, §4.1 and §5).

    JCNN_DATA_DIR=<data> python -m train --config train/configs/alexnet_imagenet.py \\
        --config.dtype=bfloat16

Data: needs ImageNet prepared in `$JCNN_DATA_DIR/imagenet2012` as `train/<wnid>/*.JPEG`
and `val/<wnid>/*.JPEG` (ImageNet's own train layout; the validation images sorted into
class folders, e.g. by the `valprep.sh` script the PyTorch ImageNet example links to),
and a GPU. The 1,000 classes are the folder's (`--config.data_dir=<folder>` reads another
copy). Photos are streamed: decoded and augmented per batch by one worker process per
core but one (`data_workers=-1`), never all in memory. float32 by default; on a GPU
bfloat16 (`--config.dtype=bfloat16`, as in the command) is the fast choice.

Recipe: the paper's (§5): SGD with momentum 0.9, batch 128, weight decay 5e-4, lr 0.01
divided by 10 three times, 90 epochs (10,009 steps an epoch, 900,810 in all), dropout
0.5 before FC6 and FC7 (the model's own), random 224 crops of the photo resized to
shorter side 256 (`alexnet_crop`), horizontal flips and PCA colour lighting with σ 0.1.
Evaluation on the centre 224 crop of the shorter side resized to 256. A checkpoint and
an evaluation of the 50,000 validation images once an epoch. Where this differs from the
paper:
  - the paper divides the rate by 10 whenever the validation error stops improving;
    fixed drops at epochs 30, 60 and 80 stand in for that (steps for batch 128: another
    --config.batch_size needs --config.boundaries too);
  - the model is `alexnet_1tower`, torchvision's one-tower AlexNet (Krizhevsky 2014, "One
    weird trick": 64-192-384-256-256 channels, no LRN, PyTorch's initialisation), not
    the paper's two-tower `alexnet`, which takes 227×227 inputs and starts from the
    paper's initialisation, whose biases of 1 gave Caffe's reproduction a flat loss (its
    bvlc_alexnet used 0.1). `--config.model=alexnet --config.image_size=227` trains the
    paper's network (crops from the shorter side 259, 256 × 227 / 224);
  - the paper crops from the central 256×256 patch of the resized photo, this recipe
    from the whole of it;
  - weight decay on the kernels only; the paper's update rule decays every weight
    (--config.weight_decay_subset=all);
  - the paper tests on ten patches (the four corners and the centre, and their mirrors),
    averaging their predictions; jcnn evaluates the single centre crop.

Expected: the paper reports top-1 error 40.7 % and top-5 error 18.2 % on the ILSVRC-2012
validation set for one CNN (59.3 % / 81.8 %; Krizhevsky et al. 2012, Table 2), for its
two-tower network and ten patches. For this network and one centre crop, torchvision's
AlexNet_Weights.IMAGENET1K_V1 reach 56.522 % top-1 and 79.066 % top-5 (torchvision's
model documentation; its recipe: batch 256, weight decay 1e-4, random-resized crops, the
rate divided by 10 every 30 of 90 epochs): expect the mid to high 50s. Not trained with
jcnn yet.

Time: not measured. Estimate: 90 epochs are 115.3M images. The network's 0.71 G
multiply-adds an image (a sixth of ResNet-50's) leave a GPU waiting for the photos: on
one H100 its 15 worker cores decode and crop about 2,500-3,000 img/s, so about 11-13 h,
plus ~30 s for each of the 90 evaluations. A 2-core CPU is not feasible: at ~20 img/s
(alexnet_1tower_cifar10.py trains 175 img/s at 64×64, a seventh of the multiply-adds of
224×224, and the same 2 cores would decode the JPEGs) the 90 epochs take about two
months, ~130× the GPU's time.
"""
from train.configs.resnet50_imagenet import epochs_to_steps, imagenet_base


def get_config():
  c = imagenet_base("alexnet_imagenet", "alexnet_1tower", batch_size=128, num_epochs=90)
  c.train_crop = "alexnet_crop"
  c.lighting = 0.1
  c.learning_rate = 0.01
  c.boundaries = epochs_to_steps((30, 60, 80), c.batch_size)
  c.weight_decay = 5e-4
  return c
