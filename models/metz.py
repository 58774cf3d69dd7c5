"""The DCGAN of Metz et al.'s Stacked MNIST experiment (2017, "Unrolled Generative Adversarial
Networks", appendix E), whose discriminator is made small enough to collapse onto few of the
1,000 modes, exactly as PacGAN reruns it for its Table 3 (Lin et al. 2018; fjxmlzn/PacGAN,
stacked_MNIST_experiments/unrolled_GAN_experiment/D=0.25G and D=0.5G, model.py and
config.py), built from DCGAN-tensorflow's ops (``models.tf1_ops``).

From the code:
- generator: z (256, standard normal) -> linear to 4 x 4 x 64 (with a bias) -> batch norm ->
  ReLU -> 3 x 3 stride-2 transposed convolutions (with biases) to 7 x 7 x 32, 14 x 14 x 16,
  28 x 28 x 8, each with batch norm and ReLU -> a 3 x 3 stride-1 convolution (with a bias) to
  the image's channels -> tanh;
- discriminator: three 3 x 3 stride-2 SAME convolutions (with biases) of d, 2d, 4d filters,
  each followed by batch norm (the first one too, unlike DCGAN's) and a leaky ReLU of 0.3,
  then a linear layer to one logit; d = 2 is D=0.25G, d = 4 is D=0.5G (``d_filters``);
- Adam: D 2e-4, G 1e-4, betas (0.5, 0.99), TF1's epsilon 1e-8; the non-saturating loss;
- packing: each of the m generator calls normalises over its own batch, as the code's m
  ``generator(z[i])`` calls do (``models.packing``).

Where this differs from the code:
- the harness updates D and G simultaneously, from one forward pass (``models.base.Phase``);
  the code runs D's update, then G's against the updated D, on the same z;
- the code samples for its scores with batch norm in training mode (the sampler calls
  ``g_bn(h)`` with its default ``train=True``: statistics of each batch of 128 test z);
  here sampling uses the moving averages (decay 0.9: about the last 10 training batches), as
  every model's ``sample`` and exported generator do;
- none in the data: the code draws its training images on the fly (three random MNIST
  training digits per image, fresh every batch: ``np.random.randint`` over the 60,000, with
  replacement, each channel its own draw), and so do runs with ``--draw on-the-fly``, the
  default of the ``pacgan-table3`` presets (``benchmarks.harness.onthefly``: the device holds
  the 60,000 digits, each batch gathers its 3 x pack digits an element and stacks them as
  channels); with ``--draw fixed`` it trains on Stacked MNIST's fixed 128,000 images instead;
- any image size and channel count: the code's 4 x 4 grid is ceil(H / 8) x ceil(W / 8), and
  the last convolution has the image's channels (3 in the code; 1 for MNIST-shaped data).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import keras
from keras import layers

from models import checks, losses, packing, tf1_ops
from models.base import Phase
from models.gan import GAN
from models.registry import register


@register("metz")
class Metz(GAN):
    """Metz et al.'s Stacked MNIST DCGAN, its D 1/4 or 1/2 of G (PacGAN Table 3)."""

    @dataclass(frozen=True)
    class Config:
        noise_dim: int = 256  # config.py's z_dim
        # the discriminator's first convolution's filters (then 2x, 4x): 2 is D=0.25G, 4 is
        # D=0.5G, the two discriminators of Metz et al. and PacGAN Table 3
        d_filters: int = 2
        lr: float = 2e-4  # the discriminator's Adam step (disc_learning_rate)
        g_lr: float = 1e-4  # the generator's (gen_learning_rate)
        beta_1: float = 0.5
        beta_2: float = 0.99  # config.py's beta2, where TF's default is 0.999
        loss: str = "ns"  # ns | ls | hinge (models/losses.py); the code's is ns
        real_label: float = 1.0  # < 1 is one-sided label smoothing; the code has none
        ema: float = 0.0  # decay of a sampled generator average; the code has none
        pack: int = 1  # PacGAN's m: Table 3 measures 1 to 4

        RULES: ClassVar[dict] = {
            "noise_dim": checks.COUNT, "d_filters": checks.COUNT, "lr": checks.POSITIVE,
            "g_lr": checks.POSITIVE, "beta_1": checks.FRACTION, "beta_2": checks.FRACTION,
            "loss": checks.OneOf(losses.GAN_LOSSES),
            "real_label": checks.Interval(0, 1, low_open=True), "ema": checks.FRACTION,
            "pack": packing.RULE,
        }

        def __post_init__(self):
            GAN.Config.__post_init__(self)

    def build_networks(self) -> dict[str, keras.Model]:
        h, w, channels = checks.image_shape(self.name, self.image_shape)
        return {"generator": metz_generator(self.config.noise_dim, (h, w, channels)),
                "discriminator": metz_discriminator(
                    packing.packed_shape((h, w, channels), self.config.pack),
                    self.config.d_filters)}

    def build_phases(self) -> list[Phase]:
        c = self.config
        return [Phase("discriminator", self.networks["discriminator"].trainable_variables,
                      tf1_ops.adam(c.lr, c.beta_1, c.beta_2)),
                Phase("generator", self.networks["generator"].trainable_variables,
                      tf1_ops.adam(c.g_lr, c.beta_1, c.beta_2))]


def metz_generator(noise_dim: int, image_shape: tuple[int, int, int]) -> keras.Model:
    """The code's ``generator``: linear, three 3 x 3 transposed convolutions, a 3 x 3
    convolution; batch norm and ReLU after all but the last, tanh out."""
    h, w, channels = image_shape
    hs, ws = tf1_ops.halvings(h, 3), tf1_ops.halvings(w, 3)  # 28 -> [28, 14, 7, 4]
    stack = [keras.Input((noise_dim,)), tf1_ops.linear(hs[3] * ws[3] * 64),
             layers.Reshape((hs[3], ws[3], 64)), tf1_ops.batch_norm(), layers.ReLU()]
    for i, filters in zip((3, 2, 1), (32, 16, 8), strict=True):
        stack += [tf1_ops.deconv2d(filters, (hs[i], ws[i]), (hs[i - 1], ws[i - 1]), kernel=3),
                  tf1_ops.batch_norm(), layers.ReLU()]
    stack += [tf1_ops.conv2d(channels, kernel=3, strides=1),
              # float32 even under mixed precision: the output is what the metrics see
              layers.Activation("tanh", dtype="float32")]
    return keras.Sequential(stack, name="generator")


def metz_discriminator(input_shape: tuple[int, int, int], filters: int) -> keras.Model:
    """The code's ``discriminator``: three 3 x 3 stride-2 convolutions of filters, 2x, 4x,
    each with batch norm and a leaky ReLU of 0.3, then one logit."""
    stack = [keras.Input(input_shape)]
    for f in (filters, 2 * filters, 4 * filters):
        stack += [tf1_ops.conv2d(f, kernel=3), tf1_ops.batch_norm(), tf1_ops.lrelu(0.3)]
    stack += [layers.Flatten(),
              tf1_ops.linear(1, dtype="float32")]  # logits in float32 for a stable loss
    return keras.Sequential(stack, name="discriminator")
