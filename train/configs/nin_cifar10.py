"""Network in Network (Lin, Chen & Yan 2014, `nin_cifar`) on CIFAR-10 for 2 epochs.

    JCNN_DATA_DIR=<data> python -m train --config train/configs/nin_cifar10.py

Data: the CIFAR-10 image-folder zip <data>/cifar10/cifar10_jpeg_q75.zip (JPEG quality
75), all 50,000 training and 10,000 test images at 32×32, normalised per channel (the
paper uses global contrast normalisation and ZCA whitening instead).

Recipe: 2 epochs of Adam (lr 1e-3, batch 64, cosine decay), no weight decay, random
4-pixel shifts and horizontal flips (the paper's augmented setting), the model's
dropout 0.5 after the first two mlpconv blocks. Adam rather than the paper's SGD: the
net has no BatchNorm and 2 epochs leave no time for a slow start.

Expected: about 48 % top-1 on the 10,000 test images, far from the paper's 89.59 %
(10.41 % error) without and 91.19 % (8.81 %) with augmentation after a full schedule
(Lin et al. 2014, Table 1): dropout makes NiN a slow starter. Measured: 48.0 % (seed 0;
33.7 % after the first epoch) on one H200 GPU with this config unchanged (checkpoints
and TensorBoard off), not on a CPU, which takes the same steps up to floating-point
differences. Batch 128 gave 45.7 %, lr 5e-4 and 2e-3 less; without dropout 68.6 %
after one epoch but 31.4 % after the second (unstable).

Time on a 2-core CPU: about 43 min. Estimate: `python -m train` without jcnn's
XLA:CPU flags (off for this model) trained at 40 img/s over 60 steps of this config on
an idle 2-core AMD EPYC, extrapolated to the 1,562 steps (41 min), plus 2 evaluations
of the test set (~30 s each, from 5.7 ms of CPU per image) and ~30 s of loading;
decoding the zip adds ~30 s on a first run.
"""
from train.configs import default, resnet20_cifar10


def get_config():
  c = default.base()
  c.name = "nin_cifar10"
  c.model = "nin_cifar"
  c.dataset = "image_folder"
  c.data_dir = resnet20_cifar10.cifar10_zip()
  c.crop_padding = 4
  c.flip = True
  c.batch_size = 64
  c.num_epochs = 2
  c.optimizer = "adam"
  c.learning_rate = 1e-3
  c.log_every_steps = 20
  return c
