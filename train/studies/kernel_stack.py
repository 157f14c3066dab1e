"""Three stacked 3×3 convolutions against one 7×7 (VGG §2.3).

    JCNN_DATA_DIR=<data> python -m train --study train/studies/kernel_stack.py --workdir runs/kernel_stack
    python -m eval study runs/kernel_stack

Claim: a stack of three 3×3 layers has the receptive field of one 7×7 but three
non-linearities and 27C² weights instead of 49C²: "this can be seen as imposing a
regularisation on the 7 × 7 conv. filters" (Simonyan & Zisserman 2015 §2.3); replacing
each pair of 3×3 layers by one 5×5 raised top-1 error by 7 % (§4.1). Expected: each of
cifar_convnet's three layers as three 3×3 convolutions (149,738 parameters) reaches a
higher test top-1 than as one 7×7 (165,610).

Measured: MEASURED

Setup: `cifar_convnet` (train/configs/cifar_convnet_cifar10.py: AlexNet's four-layer
CIFAR-10 net) on the first 1,000 training images of each CIFAR-10 class, no
augmentation, Adam 1e-3 with cosine decay, batch 128, 8 epochs (624 steps), evaluated
on the 10,000 test images every 2 epochs; seeds 0, 1, 2.
The paper-size experiment (for a GPU): `--config.train_examples=0 --config.num_epochs=140`.
"""
from train.configs import cifar_convnet_cifar10


def get_config():
  return cifar_convnet_cifar10.study_config()


VARIANTS = (
    ("3x3_stack", {"model_kwargs.kernel": 3, "model_kwargs.stack": 3}),
    ("7x7", {"model_kwargs.kernel": 7}),
)
SEEDS = (0, 1, 2)
BASELINE = "7x7"
