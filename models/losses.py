"""The adversarial loss rules a GAN can train with (its ``loss`` setting), in keras.ops.

The loss is an axis of its own in the large GAN comparisons (Lucic et al. 2018, "Are GANs
Created Equal?"): the same networks trained with a different rule. Each rule maps the
discriminator's raw outputs ("logits", no sigmoid) on real and generated images to one
scalar loss per network, averaged over the batch, in float32:

- ``ns``: non-saturating (Goodfellow et al. 2014, section 3): D minimises binary
  cross-entropy, G maximises log D(G(z)) instead of minimising log(1 - D(G(z))), which
  saturates while D easily rejects early samples.
- ``ls``: least squares (Mao et al. 2017, "Least Squares Generative Adversarial Networks",
  eq. 2): D minimises 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2], G minimises
  1/2 E[(D(G(z)) - c)^2], with the paper's 0-1 coding a = 0 (fake), b = c = 1 (real), the
  scheme eq. 9 that its experiments use.
- ``hinge``: hinge loss (Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018, SN-GAN eq. 16):
  D minimises E[relu(1 - D(x))] + E[relu(1 + D(G(z)))], G minimises -E[D(G(z))].

``real_label`` (< 1 is one-sided label smoothing, Salimans et al. 2016) is the real target
of ``ns`` and the b of ``ls``; the hinge has no target to smooth.
"""

from __future__ import annotations

from keras import ops

GAN_LOSSES = ("ns", "ls", "hinge")
SMOOTHABLE = ("ns", "ls")  # the rules with a real target that real_label sets


def _bce(logits, target: float):
    labels = ops.full_like(logits, target)
    return ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True))


def discriminator_loss(rule: str, real_logits, fake_logits, real_label: float = 1.0):
    real, fake = ops.cast(real_logits, "float32"), ops.cast(fake_logits, "float32")
    if rule == "ns":
        return _bce(real, real_label) + _bce(fake, 0.0)
    if rule == "ls":
        return 0.5 * ops.mean(ops.square(real - real_label)) + 0.5 * ops.mean(ops.square(fake))
    if rule == "hinge":
        return ops.mean(ops.relu(1.0 - real)) + ops.mean(ops.relu(1.0 + fake))
    raise ValueError(f"loss must be one of {', '.join(GAN_LOSSES)}, got {rule!r}")


def generator_loss(rule: str, fake_logits):
    fake = ops.cast(fake_logits, "float32")
    if rule == "ns":
        return _bce(fake, 1.0)
    if rule == "ls":
        return 0.5 * ops.mean(ops.square(fake - 1.0))
    if rule == "hinge":
        return -ops.mean(fake)
    raise ValueError(f"loss must be one of {', '.join(GAN_LOSSES)}, got {rule!r}")


def realness(rule: str, logits):
    """D's mean verdict, higher = "real": the probability under ``ns``; under ``ls`` and
    ``hinge`` the raw output, whose targets are 1 (real) and 0 or below (fake)."""
    logits = ops.cast(logits, "float32")
    return ops.mean(ops.sigmoid(logits) if rule == "ns" else logits)
