"""Packing (Lin et al. 2018, "PacGAN: The power of two samples in generative adversarial
networks"): the discriminator judges m samples at once, real with real and generated with
generated, concatenated along the channel axis (images, NHWC) or the features (vectors).

A packed model reads m training samples per batch element (``samples_per_example``), so the
harness draws batch x m rows a batch; consecutive rows form one element, which keeps whole
elements together when a data-parallel replica takes its contiguous slice of the batch.
With m = 1 every function here returns its input unchanged: the unpacked model exactly.
"""

from __future__ import annotations

from keras import ops

from models import checks

# the `pack` setting: PacGAN measures m = 2, 3, 4; the discriminator's first layer and the
# samples drawn per step grow linearly with m, and past 8 no one has measured a benefit
RULE = checks.Interval(1, 8, integer=True)


def pack(x, m: int):
    """(n*m, ..., C) samples -> (n, ..., C*m): rows i*m .. i*m+m-1 side by side along the
    last axis (the channels of an NHWC image, the features of a vector), first row first."""
    if m == 1:
        return x
    shape = tuple(x.shape[1:])
    grouped = ops.reshape(x, (-1, m, *shape))  # (n, m, ..., C)
    if len(shape) > 1:  # images: each sample's channels after the previous one's
        axes = (0, *range(2, len(shape) + 1), 1, len(shape) + 1)
        grouped = ops.transpose(grouped, axes)  # (n, ..., m, C)
    return ops.reshape(grouped, (-1, *shape[:-1], shape[-1] * m))


def packed_shape(shape: tuple[int, ...], m: int) -> tuple[int, ...]:
    """The shape of one packed discriminator input: the last axis m times as long."""
    return (*shape[:-1], shape[-1] * m)


def generate(generator, noise, m: int, training: bool = True):
    """The generator on m equal chunks of ``noise`` (n*m rows), one call each, packed like
    the real samples: PacGAN's m independent z batches, so a generator with batch
    normalisation normalises over batches of n, as unpacked, not over n*m."""
    if m == 1:
        return generator(noise, training=training)
    n = ops.shape(noise)[0] // m
    chunks = [generator(noise[j * n:(j + 1) * n], training=training) for j in range(m)]
    # element i: the i-th sample of each chunk, side by side, as pack() lays out real rows
    return ops.concatenate(chunks, axis=-1)
