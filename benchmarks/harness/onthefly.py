"""A training set drawn on the fly: each training image is ``stack`` images of a source array,
drawn fresh for every batch and laid side by side as its channels, rather than a fixed array of
ready images. Stacked MNIST trained as PacGAN's Table 3 code trains it (Metz et al.'s
setting): each image three of MNIST's 60,000 training digits.

How the paper's code draws (fjxmlzn/PacGAN, stacked_MNIST_experiments/unrolled_GAN_experiment/
D=0.25G/model.py, ``generate_stacked_mnist``, line 340): ``np.random.randint(0, 60000,
size=(batch, 3 * packing_num))``, a fresh call for every batch (line 178): every channel of
every image an independent uniform draw over the training digits, with replacement (a digit
may repeat within an image and within a batch), channel j of the packed input the j-th index.

Here: the loop's index block for such a set has ``stack`` indices per training image
(``loop.BatchOrder``: independent uniform draws with replacement from its seeded generator),
so a packed batch element's ``pack`` images are ``pack x stack`` consecutive indices, in the
code's order. The engine puts the source on the device once (MNIST's digits: 60,000 x 28 x 28
x 1 float32, 188 MB, where the fixed Stacked MNIST set is 128,000 x 28 x 28 x 3, 1,204 MB),
gathers a batch's indices and lays each run of ``stack`` gathered images along the channels
(``engine.stack_channels``): the model sees the same (B, H, W, stack x C) images a fixed set
gives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OnTheFly:
    """Training images drawn fresh: each is ``stack`` images of ``parts`` as its channels."""

    parts: np.ndarray  # (N, H, W, C): what every training image draws its channels from
    stack: int  # parts per training image (Stacked MNIST: 3)

    def __post_init__(self):
        if np.ndim(self.parts) != 4 or len(self.parts) == 0:
            raise ValueError(f"an on-the-fly training set draws from images (N, H, W, C), at "
                             f"least one; got shape {np.shape(self.parts)}")
        if self.stack < 1:
            raise ValueError(f"an on-the-fly image stacks at least 1 part, got {self.stack}")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The shape of one training image: (H, W, stack x C)."""
        h, w, c = self.parts.shape[1:]
        return h, w, self.stack * c
