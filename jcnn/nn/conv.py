"""2-D convolution on NHWC inputs with HWIO kernels, grouped and depthwise."""
import jax

from jcnn import kernels
from jcnn.padding import Padding, check_nhwc, explicit_padding, to_pair


def conv2d(x: jax.Array, kernel: jax.Array, bias: jax.Array | None = None, *,
           stride: int | tuple[int, int] = 1, padding: Padding = "SAME",
           dilation: int | tuple[int, int] = 1, groups: int = 1) -> jax.Array:
  """Convolves `x` with `kernel`, as `lax.conv_general_dilated` with our layouts.

  `jcnn.kernels` runs it: on the CPU, where XLA's own convolution is several times
  slower, through oneDNN or as matrix products; the values are the same to 1e-5,
  gradients included.

  Args:
    x: [batch, height, width, in_channels].
    kernel: [kernel_h, kernel_w, in_channels // groups, out_channels].
    bias: optional [out_channels].
    stride: int or (stride_h, stride_w).
    padding: "SAME", "VALID", int, (ph, pw) or ((top, bottom), (left, right)).
    dilation: kernel (atrous) dilation, int or (dilation_h, dilation_w).
    groups: splits input and output channels into this many independent
      convolutions (AlexNet's two-GPU layers use 2; depthwise uses in_channels).

  Returns:
    [batch, out_height, out_width, out_channels].
  """
  check_nhwc(x)
  if kernel.ndim != 4:
    raise ValueError(f"kernel must be 4-D [kernel_h, kernel_w, in, out], "
                     f"got shape {kernel.shape}")
  in_channels, out_channels = x.shape[-1], kernel.shape[-1]
  if not isinstance(groups, int) or groups < 1:
    raise ValueError(f"groups must be a positive int, got {groups!r}")
  if in_channels % groups or out_channels % groups:
    raise ValueError(f"channels must be divisible by groups={groups}: input "
                     f"{x.shape} has {in_channels}, kernel {kernel.shape} has "
                     f"{out_channels} out")
  if kernel.shape[2] != in_channels // groups:
    raise ValueError(f"kernel {kernel.shape} needs in-channels "
                     f"{in_channels} / groups {groups} = {in_channels // groups} "
                     f"for input {x.shape}, got {kernel.shape[2]}")
  stride, dilation = to_pair(stride, "stride"), to_pair(dilation, "dilation")
  pads = explicit_padding(padding, x.shape[1:3], kernel.shape, stride, dilation)
  y = kernels.conv(x, kernel, stride, pads, dilation, groups)
  if bias is None:
    return y
  if bias.shape != (out_channels,):
    raise ValueError(f"bias must have shape ({out_channels},) for kernel "
                     f"{kernel.shape}, got {bias.shape}")
  return y + bias


def depthwise_conv2d(x: jax.Array, kernel: jax.Array, bias: jax.Array | None = None,
                     *, stride: int | tuple[int, int] = 1, padding: Padding = "SAME",
                     dilation: int | tuple[int, int] = 1) -> jax.Array:
  """Convolves each input channel on its own: `conv2d` with groups = in_channels.

  Args:
    x: [batch, height, width, channels].
    kernel: [kernel_h, kernel_w, 1, channels * multiplier]; output channel
      c * multiplier + m comes from input channel c, as in `tf.nn.depthwise_conv2d`.
    bias, stride, padding, dilation: as in `conv2d`.

  Returns:
    [batch, out_height, out_width, channels * multiplier].
  """
  check_nhwc(x)
  return conv2d(x, kernel, bias, stride=stride, padding=padding,
                dilation=dilation, groups=x.shape[-1])
