"""DCGAN-tensorflow's networks (Taehoon Kim's, carpedm20/DCGAN-tensorflow), exactly as PacGAN
trains them on Stacked MNIST for its Table 2, VEEGAN's setting (Lin et al. 2018;
fjxmlzn/PacGAN, stacked_MNIST_experiments/VEEGAN_experiment/model.py and config.py), built
from that code's ops (``models.tf1_ops``).

From the code (gf_dim = df_dim = 64, 28 x 28 output):
- generator: z (100, uniform in [-1, 1]) -> linear to 2 x 2 x 512 -> batch norm -> ReLU ->
  5 x 5 stride-2 transposed convolutions to 4 x 4 x 256, 7 x 7 x 128, 14 x 14 x 64, each with
  batch norm and ReLU -> one to 28 x 28 x the image's channels -> tanh (biases throughout);
- discriminator: four 5 x 5 stride-2 SAME convolutions of 64, 128, 256, 512 filters with
  biases, batch norm from the second on, leaky ReLU 0.2, then a linear layer to one logit;
- Adam 2e-4, beta_1 0.5 (beta_2 0.999, epsilon 1e-8: TF1's defaults); the non-saturating
  loss; batch 64; the generator updated twice per discriminator update ("Run g_optim twice
  to make sure that d_loss does not go to zero (different from paper)"), here a generator
  phase of ``g_steps`` repeats after the discriminator's, each with its own forward pass;
- the sampler uses batch norm's moving averages (``train=False``), as ``sample`` here does.

The uniform z: the generator network's input is standard normal noise n, as every model's
here is (``sample``, the exported generator), and its first operation is z = erf(n / sqrt 2),
which is exactly uniform in (-1, 1) (2 Phi(n) - 1, Phi the normal CDF); no weights.

Where this differs from the code:
- the code's training images are in [0, 1] (``X_stacked / 255.``) against a tanh generator
  that then uses only half its range, and its classifier reads the samples unscaled; here the
  data are in [-1, 1] as every dataset here, and the scoring maps them back (an affine change
  of the input, which the networks' first layers absorb);
- the code feeds its 128,000 images in the same order every epoch (a random draw, never
  reshuffled), and for pack m > 1 fixes which m images form each packed real input; here each
  epoch is a fresh permutation and the packed real inputs are fresh each time;
- the code updates D, then G twice, on the same z for all three; here each update draws its
  own z, and the step reads two real batches, D reading the first (the harness draws a batch
  per repeat: images/s counts both);
- the code draws its triples from MNIST's 70,000 images pooled; here from the 60,000
  training digits (``benchmarks/data/stacked.py``);
- any image size and channel count: the code's 2 x 2 grid is ceil(H / 16) x ceil(W / 16).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import keras
from keras import layers, ops

from models import checks, losses, packing, tf1_ops
from models.base import Phase
from models.gan import GAN
from models.registry import register


@register("dcgan_tf")
class DCGANTF(GAN):
    """DCGAN-tensorflow's networks, G updated twice per D update (PacGAN Table 2)."""

    @dataclass(frozen=True)
    class Config:
        noise_dim: int = 100  # z_dim
        gf_dim: int = 64  # the generator's last hidden filters (8x, 4x, 2x, 1x of it)
        df_dim: int = 64  # the discriminator's first filters (1x, 2x, 4x, 8x of it)
        lr: float = 2e-4  # both networks' Adam step (learning_rate)
        beta_1: float = 0.5
        g_steps: int = 2  # generator updates per discriminator update: the code's 2
        loss: str = "ns"  # ns | ls | hinge (models/losses.py); the code's is ns
        real_label: float = 1.0  # < 1 is one-sided label smoothing; the code has none
        ema: float = 0.0  # decay of a sampled generator average; the code has none
        pack: int = 1  # PacGAN's m: Table 2 measures 1 to 4

        RULES: ClassVar[dict] = {
            "noise_dim": checks.COUNT, "gf_dim": checks.COUNT, "df_dim": checks.COUNT,
            "lr": checks.POSITIVE, "beta_1": checks.FRACTION,
            "g_steps": checks.Interval(1, 10, integer=True),
            "loss": checks.OneOf(losses.GAN_LOSSES),
            "real_label": checks.Interval(0, 1, low_open=True), "ema": checks.FRACTION,
            "pack": packing.RULE,
        }

        def __post_init__(self):
            GAN.Config.__post_init__(self)

    def build_networks(self) -> dict[str, keras.Model]:
        c = self.config
        h, w, channels = checks.image_shape(self.name, self.image_shape)
        return {"generator": dcgan_tf_generator(c.noise_dim, (h, w, channels), c.gf_dim),
                "discriminator": dcgan_tf_discriminator(
                    packing.packed_shape((h, w, channels), c.pack), c.df_dim)}

    def build_phases(self) -> list[Phase]:
        c = self.config
        return [Phase("discriminator", self.networks["discriminator"].trainable_variables,
                      tf1_ops.adam(c.lr, c.beta_1)),
                Phase("generator", self.networks["generator"].trainable_variables,
                      tf1_ops.adam(c.lr, c.beta_1), repeats=c.g_steps)]


def dcgan_tf_generator(noise_dim: int, image_shape: tuple[int, int, int],
                       gf_dim: int) -> keras.Model:
    """The code's ``generator`` behind z = erf(n / sqrt 2): standard normal noise in, its
    uniform z first (module docstring); linear, four 5 x 5 transposed convolutions, tanh."""
    h, w, channels = image_shape
    hs, ws = tf1_ops.halvings(h, 4), tf1_ops.halvings(w, 4)  # 28 -> [28, 14, 7, 4, 2]
    stack = [tf1_ops.linear(hs[4] * ws[4] * gf_dim * 8),
             layers.Reshape((hs[4], ws[4], gf_dim * 8)), tf1_ops.batch_norm(), layers.ReLU()]
    for i, filters in zip((4, 3, 2), (gf_dim * 4, gf_dim * 2, gf_dim), strict=True):
        stack += [tf1_ops.deconv2d(filters, (hs[i], ws[i]), (hs[i - 1], ws[i - 1])),
                  tf1_ops.batch_norm(), layers.ReLU()]
    stack += [tf1_ops.deconv2d(channels, (hs[1], ws[1]), (hs[0], ws[0])),
              # float32 even under mixed precision: the output is what the metrics see
              layers.Activation("tanh", dtype="float32")]
    noise = keras.Input((noise_dim,), name="noise")
    x = ops.erf(noise * (2.0 ** -0.5))  # z ~ U(-1, 1): 2 Phi(n) - 1
    for layer in stack:
        x = layer(x)
    return keras.Model(noise, x, name="generator")


def dcgan_tf_discriminator(input_shape: tuple[int, int, int], df_dim: int) -> keras.Model:
    """The code's ``discriminator``: four 5 x 5 stride-2 convolutions, batch norm from the
    second, leaky ReLU 0.2, one logit."""
    stack = [keras.Input(input_shape), tf1_ops.conv2d(df_dim), tf1_ops.lrelu()]
    for f in (df_dim * 2, df_dim * 4, df_dim * 8):
        stack += [tf1_ops.conv2d(f), tf1_ops.batch_norm(), tf1_ops.lrelu()]
    stack += [layers.Flatten(),
              tf1_ops.linear(1, dtype="float32")]  # logits in float32 for a stable loss
    return keras.Sequential(stack, name="discriminator")
