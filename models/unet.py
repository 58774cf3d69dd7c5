"""The small time-conditioned U-Net that ``flow`` and ``ddpm`` share (Ronneberger et al. 2015's
shape, with the residual blocks, group normalisation and sinusoidal time embedding of Ho et
al. 2020's network), sized for 28x28 to 32x32 images: ~1.2 M weights at the default width.

Three resolutions (H, H/2, H/4) of ``width`` x (1, 2, 4) channels, one residual block per
resolution on the way down and one on the way up, two at the bottom; no attention and no
dropout (Ho et al.'s CIFAR-10 network: 35.7 M weights, 4 resolutions of 128 x (1, 2, 2, 2)
channels, 2 blocks each, attention at 16x16, dropout 0.1). Two inputs: the images and the
time, one value per image in [0, 1] (flow's t; ddpm's step / T).

Built from Keras' own layers and ``keras.ops`` alone, so a sampler made of it loads with a
plain ``keras.saving.load_model`` (``benchmarks/export.py``); the embedding's frequencies are
a fixed (non-trainable) dense layer.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from models import checks

EMBEDDING = 64  # sinusoidal features of t (half sine, half cosine)
TIME_SCALE = 1000.0  # t in [0, 1] embedded as Ho et al.'s step index in [0, 1000]
LEVELS = (1, 2, 4)  # channels per level above the bottom, in widths (H, H/2, H/4)
GROUPS = 8  # group normalisation's groups (Wu & He 2018 use 32 for wider layers)


def time_embedding(t, units: int) -> keras.KerasTensor:
    """t (n, 1) to (n, units): sinusoidal features of TIME_SCALE * t (Vaswani et al. 2017's
    frequencies, as Ho et al.), then a two-layer SiLU MLP."""
    half = EMBEDDING // 2
    frequencies = layers.Dense(half, use_bias=False, trainable=False, name="time_frequencies")
    phases = frequencies(t)
    frequencies.set_weights([time_frequencies(half)[None, :]])
    features = ops.concatenate([ops.sin(phases), ops.cos(phases)], axis=-1)
    hidden = layers.Dense(units, activation="silu", name="time_dense_1")(features)
    return layers.Dense(units, name="time_dense_2")(hidden)


def time_frequencies(half: int) -> np.ndarray:
    """TIME_SCALE * 10000^(-i / half) for i < half: float32."""
    return (TIME_SCALE * np.exp(-math.log(10_000.0) * np.arange(half) / half)).astype(np.float32)


def residual_block(x, embedding, channels: int, name: str):
    """GroupNorm, SiLU, 3x3 conv; plus the time's projection; GroupNorm, SiLU, 3x3 conv; added
    to the input (through a 1x1 conv where the channels change)."""
    h = layers.GroupNormalization(GROUPS, name=f"{name}_norm_1")(x)
    h = layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv_1")(ops.silu(h))
    shift = layers.Dense(channels, name=f"{name}_time")(ops.silu(embedding))
    h = h + layers.Reshape((1, 1, channels))(shift)
    h = layers.GroupNormalization(GROUPS, name=f"{name}_norm_2")(h)
    h = layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv_2")(ops.silu(h))
    if x.shape[-1] != channels:
        x = layers.Conv2D(channels, 1, name=f"{name}_skip")(x)
    return x + h


def unet(name: str, image_shape: tuple, width: int = 16) -> keras.Model:
    """The network: ([images (n, H, W, C), t (n, 1)]) -> (n, H, W, C) in float32; H and W
    multiples of 4, padded to multiples of 8 inside (28 to 32) and cropped back, so the
    bottom runs at (H + pad) / 8. ``width`` (a multiple of GROUPS) is the top level's
    channels, doubled at each halving. ``name`` is the model's, for the error a shape it
    cannot take gives."""
    h, w, c = checks.image_shape(name, image_shape, multiple=4)
    if width % GROUPS:
        raise ValueError(f"{name}: width={width} must be a multiple of {GROUPS} (the U-Net's "
                         "group normalisation)")
    images, t = keras.Input((h, w, c), name="images"), keras.Input((1,), name="time")
    embedding = time_embedding(t, 4 * width)
    pad_h, pad_w = (-h) % 8, (-w) % 8
    x = layers.ZeroPadding2D(((pad_h // 2, pad_h - pad_h // 2),
                              (pad_w // 2, pad_w - pad_w // 2)), name="pad")(images)
    x = layers.Conv2D(width, 3, padding="same", name="conv_in")(x)
    skips = []
    for level, channels in enumerate(LEVELS):
        x = residual_block(x, embedding, width * channels, f"down_{level}")
        skips.append(x)
        x = layers.Conv2D(width * channels * 2, 3, strides=2, padding="same",
                          name=f"downsample_{level}")(x)
    for i in range(2):
        x = residual_block(x, embedding, width * 2 * LEVELS[-1], f"middle_{i}")
    for level, channels in reversed(list(enumerate(LEVELS))):
        # the convolution before the upsampling: a quarter of the cost after it
        x = layers.Conv2D(width * channels, 3, padding="same", name=f"upsample_{level}_conv")(x)
        x = layers.UpSampling2D(2, name=f"upsample_{level}")(x)
        x = layers.Concatenate(name=f"skip_{level}")([x, skips[level]])
        x = residual_block(x, embedding, width * channels, f"up_{level}")
    x = ops.silu(layers.GroupNormalization(GROUPS, name="norm_out")(x))
    x = layers.Cropping2D(((pad_h // 2, pad_h - pad_h // 2),
                           (pad_w // 2, pad_w - pad_w // 2)), name="crop")(x)
    # float32 even under mixed precision: the output is what the sampler integrates
    out = layers.Conv2D(c, 3, padding="same", dtype="float32", name="conv_out")(x)
    return keras.Model([images, t], out, name="unet")
