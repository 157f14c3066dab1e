"""LeNet family: LeNet-5 and the deeper network of the classic TensorFlow MNIST tutorial."""
import functools

import flax.linen as nn
import jax

from jcnn import nn as jnn
from jcnn.models.convolutionalize import check_input_size
from jcnn.models.features import record
from jcnn.models.layers import ACTIVATIONS, Conv, choice
from jcnn.models.registry import register

_POOLS = {"max": jnn.max_pool, "avg": jnn.avg_pool}


class LeNet5(nn.Module):
  """LeNet-5 (LeCun et al., 1998) on 32×32×1 inputs: C1-S2-C3-S4-C5-F6-output.

  C3 is fully connected to S2 and the output is an ordinary dense layer (61,706
  parameters). The default is the modern reading (ReLU, max pooling);
  `activation="tanh", pooling="avg"` gives the classic one. Same parameter count.
  """
  num_classes: int = 10
  activation: str = "relu"
  pooling: str = "max"

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 32, 32, 1] -> logits [batch, num_classes].

    Larger inputs run up to C5's map (SPP-net reads S4 of a whole image, cut with
    `features.run_to_feature`); F6 reads a 1×1 map only.
    """
    if x.ndim != 4 or min(x.shape[1:3]) < 32:
      check_input_size("lenet5", x, (32, 32, 1))
    check_input_size("lenet5", x, (32, 32, 1), at_least=True)
    image = x
    act = choice("activation", ACTIVATIONS, self.activation)
    pool = functools.partial(choice("pooling", _POOLS, self.pooling), window=2, stride=2)
    x = record(self, "s2", pool(act(Conv(6, (5, 5), padding="VALID", name="c1")(x))))
    x = record(self, "s4", pool(act(Conv(16, (5, 5), padding="VALID", name="c3")(x))))
    x = record(self, "c5_out", act(Conv(120, (5, 5), padding="VALID", name="c5")(x)))
    if x.shape[1:3] != (1, 1):
      check_input_size("lenet5", image, (32, 32, 1))
    x = act(nn.Dense(84, name="f6")(x.reshape(x.shape[0], -1)))
    # F6 as a 1×1 map, like C5: R-CNN's SVMs read it where AlexNet's read fc7.
    record(self, "f6_out", x[:, None, None, :])
    return nn.Dense(self.num_classes, name="output")(x)


class LeNetTF(nn.Module):
  """The deeper MNIST network of the classic TensorFlow tutorial (convolutional.py).

  conv 5×5×32 SAME - max pool 2 - conv 5×5×64 SAME - max pool 2 - FC 512 - dropout -
  FC num_classes, ReLU throughout, on 28×28×1 inputs.
  """
  num_classes: int = 10
  dropout_rate: float = 0.5

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """x: [batch, 28, 28, 1] -> logits [batch, num_classes]."""
    check_input_size("lenet_tf", x, (28, 28, 1))
    for i, width in enumerate((32, 64), start=1):
      x = jax.nn.relu(Conv(width, (5, 5), padding="SAME", name=f"conv{i}")(x))
      x = record(self, f"pool{i}", jnn.max_pool(x, window=2, stride=2, padding="SAME"))
    x = x.reshape(x.shape[0], -1)
    x = jax.nn.relu(nn.Dense(512, name="fc1")(x))
    key = self.make_rng("dropout") if train and self.dropout_rate > 0 else None
    x = jnn.dropout(x, self.dropout_rate, key, deterministic=not train)
    return nn.Dense(self.num_classes, name="fc2")(x)


register("lenet5", input_shape=(32, 32, 1), num_classes=10, num_params=61_706,
         params_source="LeCun et al. 1998, layer by layer (C3 fully connected)",
         paper="LeCun et al. 1998, Gradient-Based Learning Applied to Document Recognition",
         notes="dense output layer instead of RBF; C3 fully connected")(LeNet5)
register("lenet_tf", input_shape=(28, 28, 1), num_classes=10, num_params=1_663_370,
         params_source="tensorflow/models image/mnist/convolutional.py variable shapes",
         paper="TensorFlow tutorial 'Deep MNIST' (tensorflow/models image/mnist/convolutional.py)"
         )(LeNetTF)
