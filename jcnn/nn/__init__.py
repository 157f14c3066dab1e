"""Pure functions on NHWC arrays: the layers our models are built from."""
from jcnn.nn.conv import conv2d, depthwise_conv2d
from jcnn.nn.dropout import dropout
from jcnn.nn.normalization import batch_norm, local_response_norm
from jcnn.nn.pooling import avg_pool, global_avg_pool, max_pool

__all__ = [
    "avg_pool",
    "batch_norm",
    "conv2d",
    "depthwise_conv2d",
    "dropout",
    "global_avg_pool",
    "local_response_norm",
    "max_pool",
]
