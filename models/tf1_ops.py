"""The TensorFlow 1 ops of DCGAN-tensorflow (Taehoon Kim's, carpedm20/DCGAN-tensorflow) as
Keras layers, exactly as PacGAN's Stacked MNIST code defines them (fjxmlzn/PacGAN,
stacked_MNIST_experiments/*/ops.py, the same file in all three experiments); ``metz`` and
``dcgan_tf`` build the papers' networks from them.

- ``conv2d``: a k x k convolution, stride 2 unless told, padding SAME, with a bias; weights
  truncated N(0, 0.02) (two standard deviations, as Keras' TruncatedNormal), biases 0.
- ``deconv2d``: a k x k stride-2 transposed convolution to an explicit output size (TF's
  ``conv2d_transpose(output_shape=...)``, padding SAME), with a bias; weights N(0, 0.02).
  Keras reaches an odd size (4 -> 7) with ``output_padding``: (in - 1) * 2 + k - 2 * (k // 2)
  + output_padding = 2 * in - 1 + output_padding for odd k, so 0 gives 2 * in - 1 and 1 gives
  2 * in; on the TensorFlow backend Keras then calls the same ``conv2d_transpose`` with
  padding SAME for that output size.
- ``linear``: a dense layer with a bias; weights N(0, 0.02), bias 0.
- ``batch_norm``: ``tf.contrib.layers.batch_norm(decay=0.9, epsilon=1e-5, scale=True)``,
  centred too (the contrib default), so a gamma and a beta per channel that train and a moving
  mean and variance that do not (4 per channel in Keras' ``count_params``, 2 of them in
  ``tf.trainable_variables``, which is what the code prints as its networks' sizes).
- ``lrelu``: ``tf.maximum(x, leak * x)``, a leaky ReLU (leak 0.2 unless told).
- ``adam``: ``tf.train.AdamOptimizer``, whose epsilon is 1e-8 where Keras' default is 1e-7
  (the update rule is otherwise the same, the epsilon-hat form of Kingma & Ba's section 2).
"""

from __future__ import annotations

import math

import keras
from keras import layers

STDDEV = 0.02  # every weight initialiser of ops.py
TF1_ADAM_EPSILON = 1e-8  # tf.train.AdamOptimizer's default


def conv_out_size_same(size: int, stride: int = 2) -> int:
    """A SAME-padded strided convolution's output length (model.py's conv_out_size_same)."""
    return int(math.ceil(size / stride))


def halvings(size: int, times: int) -> list[int]:
    """``size`` and its SAME stride-2 outputs ``times`` times over: 28, 3 -> [28, 14, 7, 4]."""
    sizes = [size]
    for _ in range(times):
        sizes.append(conv_out_size_same(sizes[-1]))
    return sizes


def conv2d(filters: int, kernel: int = 5, strides: int = 2, **kwargs) -> layers.Conv2D:
    return layers.Conv2D(filters, kernel, strides=strides, padding="same",
                         kernel_initializer=keras.initializers.TruncatedNormal(0.0, STDDEV),
                         bias_initializer="zeros", **kwargs)


def deconv2d(filters: int, size_in: tuple[int, int], size_out: tuple[int, int],
             kernel: int = 5) -> layers.Conv2DTranspose:
    """A stride-2 transposed convolution from ``size_in`` (h, w) to ``size_out`` (h, w), each
    output length 2 * in - 1 or 2 * in (what a SAME stride-2 convolution maps back onto in)."""
    padding = []
    for n_in, n_out in zip(size_in, size_out, strict=True):
        extra = n_out - (2 * n_in - 1)
        if extra not in (0, 1) or kernel % 2 == 0:
            raise ValueError(f"deconv2d maps {n_in} to 2 * {n_in} - 1 or 2 * {n_in} with an "
                             f"odd kernel, not to {n_out} with kernel {kernel}")
        padding.append(extra)
    return layers.Conv2DTranspose(
        filters, kernel, strides=2, padding="same", output_padding=tuple(padding),
        kernel_initializer=keras.initializers.RandomNormal(0.0, STDDEV),
        bias_initializer="zeros")


def linear(units: int, **kwargs) -> layers.Dense:
    return layers.Dense(units, kernel_initializer=keras.initializers.RandomNormal(0.0, STDDEV),
                        bias_initializer="zeros", **kwargs)


def batch_norm() -> layers.BatchNormalization:
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)


def lrelu(leak: float = 0.2) -> layers.LeakyReLU:
    return layers.LeakyReLU(negative_slope=leak)


def adam(learning_rate: float, beta_1: float, beta_2: float = 0.999) -> keras.optimizers.Adam:
    return keras.optimizers.Adam(learning_rate, beta_1=beta_1, beta_2=beta_2,
                                 epsilon=TF1_ADAM_EPSILON)
