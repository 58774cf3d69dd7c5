"""metz and dcgan_tf: PacGAN's Stacked MNIST networks (Tables 3 and 2) against its code
(fjxmlzn/PacGAN, stacked_MNIST_experiments/): weight counts, shapes, ops, settings, schedule
and presets.

The code prints each network's size as the trainable variables' count (model.py: the
``tf.trainable_variables()`` whose names hold 'd_' or 'g_'), which counts a batch norm's gamma
and beta (2 a channel); Keras' ``count_params`` also counts its moving mean and variance (4 a
channel). Both are checked: trainable == the code's count, count_params == it + 2 a BN channel.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

import models
from benchmarks.harness import build, train
from models import tf1_ops
from tests.conftest import SHAPE

STACKED = (28, 28, 3)
METZ, DCGAN_TF = models.get("metz"), models.get("dcgan_tf")


def trainable(network) -> int:
    return sum(math.prod(v.shape) for v in network.trainable_variables)


def counts(cls, **settings) -> dict[str, tuple[int, int]]:
    """Each network's (trainable, count_params) on Stacked MNIST's shape."""
    model = cls(cls.Config(**settings), STACKED)
    return {name: (trainable(net), net.count_params()) for name, net in model.networks.items()}


# Table 3's generator (unrolled_GAN_experiment/*/model.py, ``generator``), either size:
# g_h0_lin 256 x 1024 + 1024 bias = 263,168; g_bn0 2 x 64 = 128
# g_h1 3x3, 64 -> 32: 18,432 + 32 = 18,464; g_bn1 2 x 32 = 64
# g_h2 3x3, 32 -> 16: 4,608 + 16 = 4,624; g_bn2 2 x 16 = 32
# g_h3 3x3, 16 -> 8: 1,152 + 8 = 1,160; g_bn3 2 x 8 = 16
# g_h4 (conv2d, stride 1) 3x3, 8 -> 3: 216 + 3 = 219
METZ_G = 263_168 + 128 + 18_464 + 64 + 4_624 + 32 + 1_160 + 16 + 219
METZ_G_BN = 64 + 32 + 16 + 8  # channels with a moving mean and variance


def metz_d(filters: int, pack: int) -> int:
    """Table 3's discriminator (``discriminator``) of d_h0_conv's ``filters`` on 3 x pack
    channels: three 3x3 convolutions with biases (f, 2f, 4f), batch norm after each (d_bn1..3,
    2 a channel), d_h4_lin from the 4 x 4 x 4f grid to 1 with a bias."""
    f1, f2, f3 = filters, 2 * filters, 4 * filters
    convs = (9 * 3 * pack * f1 + f1) + (9 * f1 * f2 + f2) + (9 * f2 * f3 + f3)
    return convs + 2 * (f1 + f2 + f3) + 4 * 4 * f3 + 1


def test_metz_weight_counts_are_the_codes():
    assert METZ_G == 287_875
    # D=0.25G: (54 + 2) + 4 + (72 + 4) + 8 + (288 + 8) + 16 + (128 + 1); pack 2: 54 more
    assert (metz_d(2, 1), metz_d(2, 2)) == (585, 639)
    # D=0.5G: (108 + 4) + 8 + (288 + 8) + 16 + (1,152 + 16) + 32 + (256 + 1); pack 2: 108 more
    assert (metz_d(4, 1), metz_d(4, 2)) == (1_889, 1_997)
    for filters in (2, 4):
        for pack in (1, 2):
            got = counts(METZ, d_filters=filters, pack=pack)
            d_bn = filters * (1 + 2 + 4)
            assert got["discriminator"] == (metz_d(filters, pack), metz_d(filters, pack) + 2 * d_bn)
            assert got["generator"] == (METZ_G, METZ_G + 2 * METZ_G_BN)  # pack leaves G alone


# Table 2's generator (VEEGAN_experiment/model.py, gf_dim 64, 28 -> 14 -> 7 -> 4 -> 2):
# g_h0_lin 100 x (2*2*512) + 2,048 = 206,848; g_bn0 2 x 512 = 1,024
# g_h1 5x5, 512 -> 256: 3,276,800 + 256 = 3,277,056; g_bn1 512
# g_h2 5x5, 256 -> 128: 819,200 + 128 = 819,328; g_bn2 256
# g_h3 5x5, 128 -> 64: 204,800 + 64 = 204,864; g_bn3 128
# g_h4 5x5, 64 -> 3: 4,800 + 3 = 4,803
DCGAN_TF_G = 206_848 + 1_024 + 3_277_056 + 512 + 819_328 + 256 + 204_864 + 128 + 4_803
DCGAN_TF_G_BN = 512 + 256 + 128 + 64
# its discriminator (df_dim 64): d_h0_conv 5x5, 3m -> 64: 4,800m + 64 (no batch norm)
# d_h1_conv 5x5, 64 -> 128: 204,800 + 128 = 204,928; d_bn1 256
# d_h2_conv 5x5, 128 -> 256: 819,200 + 256 = 819,456; d_bn2 512
# d_h3_conv 5x5, 256 -> 512: 3,276,800 + 512 = 3,277,312; d_bn3 1,024
# d_h4_lin 2*2*512 -> 1: 2,048 + 1 = 2,049
DCGAN_TF_D_SHARED = 64 + 204_928 + 256 + 819_456 + 512 + 3_277_312 + 1_024 + 2_049
DCGAN_TF_D_BN = 128 + 256 + 512


def test_dcgan_tf_weight_counts_are_the_codes():
    assert DCGAN_TF_G == 4_514_819
    assert (DCGAN_TF_D_SHARED + 4_800, DCGAN_TF_D_SHARED + 9_600) == (4_310_401, 4_315_201)
    for pack in (1, 2):
        got = counts(DCGAN_TF, pack=pack)
        d = DCGAN_TF_D_SHARED + 4_800 * pack
        assert got["discriminator"] == (d, d + 2 * DCGAN_TF_D_BN)
        assert got["generator"] == (DCGAN_TF_G, DCGAN_TF_G + 2 * DCGAN_TF_G_BN)


def _outputs(network, kind) -> list[tuple]:
    return [tuple(layer.output.shape[1:]) for layer in network.layers if isinstance(layer, kind)]


def test_the_networks_grids_are_the_codes():
    metz = METZ(METZ.Config(d_filters=4, pack=2), STACKED)
    g, d = metz.networks["generator"], metz.networks["discriminator"]
    assert _outputs(g, keras.layers.Reshape) == [(4, 4, 64)]
    assert _outputs(g, keras.layers.Conv2DTranspose) == [(7, 7, 32), (14, 14, 16), (28, 28, 8)]
    assert _outputs(g, keras.layers.Conv2D)[-1] == (28, 28, 3)
    assert d.input_shape[1:] == (28, 28, 6)  # two packed Stacked MNIST images
    assert _outputs(d, keras.layers.Conv2D) == [(14, 14, 4), (7, 7, 8), (4, 4, 16)]
    # batch norm after every discriminator convolution, the first included; leaky ReLU 0.3
    assert len(_outputs(d, keras.layers.BatchNormalization)) == 3
    assert {layer.negative_slope for layer in d.layers
            if isinstance(layer, keras.layers.LeakyReLU)} == {0.3}
    tf_ = DCGAN_TF(image_shape=STACKED)
    g, d = tf_.networks["generator"], tf_.networks["discriminator"]
    assert _outputs(g, keras.layers.Reshape) == [(2, 2, 512)]
    assert _outputs(g, keras.layers.Conv2DTranspose) == [(4, 4, 256), (7, 7, 128), (14, 14, 64),
                                                         (28, 28, 3)]
    assert _outputs(d, keras.layers.Conv2D) == [(14, 14, 64), (7, 7, 128), (4, 4, 256),
                                                (2, 2, 512)]
    assert _outputs(d, keras.layers.BatchNormalization) == [(7, 7, 128), (4, 4, 256), (2, 2, 512)]
    assert {layer.negative_slope for layer in d.layers
            if isinstance(layer, keras.layers.LeakyReLU)} == {0.2}


def test_batch_norm_and_the_initialisers_are_ops_pys():
    net = METZ(image_shape=STACKED).networks
    norms = [layer for n in net.values() for layer in n.layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    assert {(layer.momentum, layer.epsilon, layer.center, layer.scale) for layer in norms} == {
        (0.9, 1e-5, True, True)}  # decay 0.9, epsilon 1e-5, scale=True (and centred)
    dense = next(layer for layer in net["generator"].layers
                 if isinstance(layer, keras.layers.Dense))
    kernel, bias = (np.asarray(w) for w in dense.get_weights())
    assert kernel.shape == (256, 1024) and abs(kernel.std() - 0.02) < 0.0005  # N(0, 0.02)
    assert not bias.any()
    # conv2d's truncated N(0, 0.02): nothing past two standard deviations, whose std is
    # 0.02 x 0.8796 (the normal's, truncated at +-2)
    d = DCGAN_TF(image_shape=STACKED).networks["discriminator"]
    conv = np.asarray([layer for layer in d.layers
                       if isinstance(layer, keras.layers.Conv2D)][-1].get_weights()[0])
    assert conv.shape == (5, 5, 256, 512)
    assert np.abs(conv).max() <= 0.04 and abs(conv.std() - 0.02 * 0.8796) < 0.0003


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="compares with TensorFlow's own conv2d_transpose")
@pytest.mark.parametrize(("kernel", "size_in", "size_out"),
                         [(3, 4, 7), (3, 7, 14), (5, 2, 4), (5, 4, 7), (5, 14, 28)])
def test_deconv2d_is_tf_conv2d_transpose_to_the_codes_output_size(kernel, size_in, size_out):
    import tensorflow as tf

    layer = tf1_ops.deconv2d(5, (size_in, size_in), (size_out, size_out), kernel=kernel)
    x = np.random.default_rng(0).standard_normal((2, size_in, size_in, 3)).astype(np.float32)
    layer.build(x.shape)
    w, b = (np.asarray(v) for v in layer.weights)
    b = b + 0.1 * np.arange(5, dtype=np.float32)  # a bias that shows where it is added
    layer.set_weights([w, b])
    got = keras.ops.convert_to_numpy(layer(x))
    ops_py = tf.nn.conv2d_transpose(x, w, output_shape=[2, size_out, size_out, 5],
                                    strides=[1, 2, 2, 1], padding="SAME") + b
    assert got.shape == (2, size_out, size_out, 5)
    np.testing.assert_allclose(got, ops_py.numpy(), atol=1e-6)


def test_deconv2d_refuses_a_size_it_cannot_reach_in_one_line():
    with pytest.raises(ValueError, match=r"^deconv2d maps 4 to 2 \* 4 - 1 or 2 \* 4 .* not to 9"):
        tf1_ops.deconv2d(8, (4, 4), (9, 8), kernel=3)


def test_the_optimizers_are_the_codes():
    d, g = METZ(image_shape=STACKED).phases
    assert (d.name, g.name) == ("discriminator", "generator") and d.repeats == g.repeats == 1
    for phase, lr in ((d, 2e-4), (g, 1e-4)):
        opt = phase.optimizer
        assert (float(opt.learning_rate), opt.beta_1, opt.beta_2, opt.epsilon) == pytest.approx(
            (lr, 0.5, 0.99, 1e-8))
    d, g = DCGAN_TF(image_shape=STACKED).phases
    assert (d.repeats, g.repeats) == (1, 2)
    for opt in (d.optimizer, g.optimizer):
        assert (float(opt.learning_rate), opt.beta_1, opt.beta_2, opt.epsilon) == pytest.approx(
            (2e-4, 0.5, 0.999, 1e-8))
    assert (METZ.Config().noise_dim, DCGAN_TF.Config().noise_dim) == (256, 100)


def test_dcgan_tf_draws_a_uniform_z_from_its_normal_noise():
    from scipy import special, stats

    generator = DCGAN_TF(DCGAN_TF.Config(gf_dim=8), SHAPE).networks["generator"]
    noise = np.random.default_rng(0).standard_normal((64, 100)).astype(np.float32)
    z = special.erf(noise / np.sqrt(2.0)).astype(np.float32)
    assert stats.kstest(z.ravel(), "uniform", args=(-1, 2)).pvalue > 0.01  # U(-1, 1)
    code = keras.Sequential(generator.layers[1:])  # the code's generator, z in
    np.testing.assert_allclose(keras.ops.convert_to_numpy(generator(noise, training=False)),
                               keras.ops.convert_to_numpy(code(z, training=False)), atol=1e-5)


@pytest.mark.parametrize(("name", "settings"), [("metz", {}),
                                               ("dcgan_tf", {"gf_dim": 8, "df_dim": 8})])
@pytest.mark.parametrize("shape", [STACKED, SHAPE], ids=["stacked", "mnist"])
def test_samples_have_the_images_shape_and_tanhs_range(name, settings, shape):
    cls = models.get(name)
    model = cls(cls.Config(pack=2, **settings), shape)
    images = model.sample(16, seed=3)
    assert images.shape == (16, *shape) and images.dtype == np.float32
    assert -1.0 <= images.min() < images.max() <= 1.0
    np.testing.assert_array_equal(images, model.sample(16, seed=3))
    assert model.networks["discriminator"].input_shape[1:] == (*shape[:2], 2 * shape[2])


@pytest.mark.slow
@pytest.mark.parametrize(("name", "settings", "updates"), [
    ("dcgan_tf", {"gf_dim": 8, "df_dim": 8}, (3, 6)),  # the code's g_optim twice
    ("dcgan_tf", {"gf_dim": 8, "df_dim": 8, "g_steps": 1}, (3, 3)),
    ("metz", {}, (3, 3)),
])
def test_the_generator_updates_per_discriminator_update(digits, name, settings, updates):
    cls = models.get(name)
    model = build(name, cls.Config(**settings), seed=0, image_shape=SHAPE)
    log = train(model, digits, steps=3, batch_size=16, seed=0)
    d, g = (int(keras.ops.convert_to_numpy(p.optimizer.iterations)) for p in model.phases)
    assert (d, g) == updates
    assert log.batches_per_step == updates[1] // updates[0]
    assert all(math.isfinite(v) for values in log.history.values() for v in values)


def _resolved(*argv):
    from benchmarks.cli import build_parser
    from benchmarks.cli.run import resolve_config

    return resolve_config(build_parser().parse_args(["run", *argv]))


@pytest.mark.parametrize(("preset", "model", "budget"), [
    ("pacgan-table3", "metz", (500_000, 128, 50, 25_600)),
    ("pacgan-table3-cpu", "metz", (20_000, 128, 3, 25_600)),
    ("pacgan-stacked", "dcgan_tf", (100_000, 64, 10, 26_000)),
    ("pacgan-stacked-cpu", "dcgan_tf", (2_000, 64, 3, 26_000)),
])
def test_the_paper_presets_carry_the_codes_settings_beneath_set(preset, model, budget):
    cfg = _resolved("--models", f"{model},dcgan", "--preset", preset)
    assert (cfg.steps, cfg.batch_size, cfg.seeds, cfg.samples) == budget
    assert set(cfg.overrides) == {model}  # dcgan keeps its own settings
    cls = models.get(model)
    assert cls.Config(**cfg.overrides[model]) == cls.Config()  # the defaults are the paper's
    mine = _resolved("--models", model, "--preset", preset, "--set", f"{model}.lr=1e-3")
    assert mine.overrides[model]["lr"] == 1e-3
