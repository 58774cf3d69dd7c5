"""Run configuration: presets with a comment per budget, and frozen run settings."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from benchmarks.errors import UserError

DEFAULT_MODELS = ("dcgan", "gan", "ae")  # what `run` and `bench` train when --models is not given
# how a run draws its training images (--draw): "fixed", the dataset's training split; or
# "on-the-fly", each image's parts drawn afresh every batch (Stacked MNIST's three digits, as
# PacGAN's Table 3 code draws them: benchmarks/harness/onthefly.py)
FIXED, ON_THE_FLY = "fixed", "on-the-fly"
DRAWS = (FIXED, ON_THE_FLY)


@dataclass(frozen=True)
class Preset:
    steps: int  # training steps per (model, seed)
    batch_size: int  # images per step
    seeds: int  # independent seeds per model (mean ± std in the report)
    eval_every: int  # steps between cheap evaluations (curves); 0 = only the final one
    eval_samples: int  # samples per cheap evaluation during training
    samples: int  # samples for the final, full evaluation (FID etc. at 10k is the convention)
    about: str
    # steps between checkpoints of the model in training (0: none); a checkpoint of a DCGAN
    # is ~30 MB and a fraction of a second, so long runs keep one every few minutes of CPU
    checkpoint_every: int = 0
    # training steps per compiled call (tests/perf/test_points_speed.py: the 2-D GAN's step is
    # bound by its compute, not the call: 1 and 50 a call differ by 3-10 %, and JAX compiles
    # 50 unrolled steps for 36-50 s, so the presets keep 1)
    steps_per_call: int = 1
    # model settings the budget was set for (a paper's), beneath the run's --set values
    settings: dict[str, dict[str, object]] = field(default_factory=dict)
    # what the datasets it was set for hold: "points" (the 2-D mixtures), "images" (a paper's
    # image networks); None: any. preflight.check_fits refuses it on the other kind
    holds: str | None = None
    # the paper's table it reproduces (a key of benchmarks/published.py's TABLES): the run
    # writes that table's rows for its dataset into results.json, and the report sets them
    # under ours; None: none
    reproduces: str | None = None
    # how its runs draw their training images (DRAWS), beneath --draw
    draw: str = FIXED


# PacGAN's 2-D networks' settings (its synthetic_data_experiments configs): a 2-d Gaussian
# z, Adam 1e-4 with beta_1 0.8, no dropout in the discriminator; gan builds PacGAN's 2-D
# networks (400-unit ReLU generator, 200-unit maxout-5 discriminator) for point data
PACGAN_2D = {"gan": {"noise_dim": 2, "lr": 1e-4, "beta_1": 0.8, "dropout": 0.0}}

# PacGAN Table 2's settings (VEEGAN's setting; its VEEGAN_experiment config.py and model.py):
# DCGAN-tensorflow's networks (dcgan_tf), a 100-d uniform z, Adam 2e-4 with beta_1 0.5, the
# generator updated twice per discriminator update. dcgan_tf's defaults are these; they are
# written out so that a changed default cannot move the paper's runs. Its table's columns are
# --sweep dcgan_tf.pack=1,2,3,4
PACGAN_TABLE2 = {"dcgan_tf": {"noise_dim": 100, "gf_dim": 64, "df_dim": 64, "lr": 2e-4,
                              "beta_1": 0.5, "g_steps": 2}}

# PacGAN Table 3's settings (Metz et al.'s; its unrolled_GAN_experiment D=0.25G config.py and
# model.py): metz, a 256-d normal z, Adam 2e-4 (D) and 1e-4 (G) with betas (0.5, 0.99), and
# D = 1/4 G (d_filters 2). metz's defaults are these, written out as above. The table's
# other discriminator is --sweep metz.d_filters=2,4 (D=0.5G), its columns
# --sweep metz.pack=1,2,3,4
PACGAN_TABLE3 = {"metz": {"noise_dim": 256, "d_filters": 2, "lr": 2e-4, "g_lr": 1e-4,
                          "beta_1": 0.5, "beta_2": 0.99}}


PRESETS: dict[str, Preset] = {
    # seconds: proves the pipeline end to end on tiny budgets (tests use it)
    "smoke": Preset(steps=20, batch_size=32, seeds=1, eval_every=10, eval_samples=200,
                    samples=500, about="pipeline check, numbers meaningless"),
    # dcgan,gan,ae x 1 seed in ~8 min on a 2-core CPU (DCGAN ~750 images/s); 192k images per
    # model, below the tutorial recipe's 256k (1,000 steps at batch 256), at which it covered
    # 6 of 10 digits; here DCGAN covers 10 of 10 from ~1,500 steps on
    "quick": Preset(steps=3000, batch_size=64, seeds=1, eval_every=500, eval_samples=2000,
                    samples=10000, about="CPU budget: 192k images per model",
                    checkpoint_every=1000),
    # the large GAN study's budget (Lucic et al. 2018: 20 epochs at batch 64 on MNIST), 3 seeds
    "standard": Preset(steps=18750, batch_size=64, seeds=3, eval_every=2500, eval_samples=5000,
                       samples=10000, about="20 epochs of 60k at batch 64, 3 seeds",
                       checkpoint_every=2500),
    # the 2-D ring and grid (--dataset ring|grid) on a CPU: PacGAN's settings and batch, scored
    # on PacGAN's 2,500 samples (coverage depends on the count). 10k steps, 3-4 min a run on 2
    # busy cores: modes and the packed/unpacked ordering of reverse KL have settled by then,
    # the high-quality share has not (ring, one seed: 75-86 % at 10k, 93 % from 35k on;
    # docs/mode-collapse.md). A checkpoint at each evaluation (a 2-D GAN's is ~1 MB): an
    # interrupted run resumes from its last quarter, not from step 0
    "mixture": Preset(steps=10000, batch_size=100, seeds=5, eval_every=2500,
                      eval_samples=2500, samples=2500, settings=PACGAN_2D, holds="points",
                      checkpoint_every=2500,
                      reproduces="pacgan-table1",
                      about="2-D mixtures: 10k steps at batch 100, 5 seeds"),
    # PacGAN Table 1's own budget: 400 epochs of 100,000 points at batch 100
    "pacgan-2d": Preset(steps=400000, batch_size=100, seeds=10, eval_every=50000,
                        eval_samples=2500, samples=2500, checkpoint_every=50000, settings=PACGAN_2D,
                        holds="points",
                        reproduces="pacgan-table1",
                        about="PacGAN Table 1: 400 epochs of 100k points at batch 100"),
    # PacGAN Table 2's budget (a GPU's): 50 epochs of Stacked MNIST's 128,000 images at batch
    # 64, 10 trials, scored on 26,000 samples; with its settings for dcgan_tf (the paper's
    # networks: --models dcgan_tf), whose doubled generator update reads two batches a step
    "pacgan-stacked": Preset(steps=100000, batch_size=64, seeds=10, eval_every=10000,
                             eval_samples=5000, samples=26000, checkpoint_every=5000,
                             settings=PACGAN_TABLE2, holds="images",
                             reproduces="pacgan-table2",
                             about="PacGAN Table 2: 50 epochs of 128k at batch 64, 10 seeds"),
    # Table 2's networks and settings on a CPU: one epoch (2,000 steps at batch 64), 3 seeds,
    # evaluated every 1,000 steps, where the unpacked run has collapsed and the packed one not
    # (figures and cost: docs/mode-collapse.md, "Table 2's networks on a CPU")
    "pacgan-stacked-cpu": Preset(steps=2000, batch_size=64, seeds=3, eval_every=1000,
                                 eval_samples=5000, samples=26000, checkpoint_every=1000,
                                 settings=PACGAN_TABLE2, holds="images",
                                 reproduces="pacgan-table2",
                                 about="PacGAN Table 2's networks, 1 epoch, 3 seeds (CPU)"),
    # PacGAN Table 3's budget (a GPU's; Metz et al.'s): 500,000 steps at batch 128 (its
    # config.py: num_training_sample 500000 * 128, one epoch), 50 trials, scored on 25,600
    # samples (num_test_sample); --models metz. Its code draws fresh triples each batch, and
    # so do its runs (--draw on-the-fly: 500,000 x 128 triples, each drawn once)
    "pacgan-table3": Preset(steps=500000, batch_size=128, seeds=50, eval_every=25000,
                            eval_samples=10000, samples=25600, checkpoint_every=25000,
                            settings=PACGAN_TABLE3, holds="images",
                            reproduces="pacgan-table3", draw=ON_THE_FLY,
                            about="PacGAN Table 3: 500k steps at batch 128, drawn on the fly, "
                                  "50 seeds"),
    # Table 3's settings on a CPU: 20,000 steps (4 % of the paper's), 3 seeds, evaluated
    # every 2,000 steps as the code logs its metrics; its --sweep metz.pack=1,2 takes 1 h 29 min
    # on 2 cores (--workers 2). At 20,000 steps every run, packed or not, had collapsed onto
    # 1-3 of the 1,000 triples (docs/mode-collapse.md); the budget where pack 2 separates lies
    # beyond it and is not yet measured (D = 1/2 G, --set metz.d_filters=4: the same page)
    "pacgan-table3-cpu": Preset(steps=20000, batch_size=128, seeds=3, eval_every=2000,
                                eval_samples=5000, samples=25600, checkpoint_every=5000,
                                settings=PACGAN_TABLE3, holds="images",
                                reproduces="pacgan-table3", draw=ON_THE_FLY,
                                about="PacGAN Table 3's settings, drawn on the fly, 20k steps, "
                                      "3 seeds (CPU)"),
}


def default_preset() -> str:
    """standard when a GPU is visible to the chosen backend, else quick."""
    from benchmarks.backend import accelerators

    return "standard" if accelerators() else "quick"


@dataclass(frozen=True)
class RunConfig:
    models: tuple[str, ...]
    dataset: str | None  # None: mnist, falling back to digits
    data_dir: str | None
    backend: str
    preset: str
    steps: int
    batch_size: int
    seeds: int
    eval_every: int
    eval_samples: int
    samples: int
    out: str | None
    overrides: dict[str, dict[str, object]] = field(default_factory=dict)  # model -> key -> value
    sweep: dict[str, dict[str, list]] = field(default_factory=dict)  # model -> key -> values
    precision: str = "float32"
    jit: bool = False
    distribute: bool = False
    image_size: int | None = None  # image folders: resize to NxN; None = the images' own
    channels: int | None = None  # image folders: 1 or 3; None = as stored
    classifier_gate: float | None = None  # percent; None = the dataset's own gate
    checkpoint_every: int = 0  # steps between checkpoints; --resume continues from the last
    # --plugin files (resolved paths): every process that trains loads them before its model
    plugins: tuple[str, ...] = ()
    steps_per_call: int = 1  # training steps per compiled call
    # where progress is written as it trains (benchmarks/tracking.py): "tensorboard",
    # "mlflow", both comma-separated, or "none" (what records from before it, resumed, did)
    tracker: str = "none"
    # how its training images are drawn (DRAWS; records from before it, resumed: fixed)
    draw: str = FIXED


def check_models(names) -> None:
    """Every name is a registered model, else one line listing the registered ones."""
    from models import registry

    for name in names:
        try:
            registry.get(name)
        except KeyError as e:
            raise UserError(str(e)) from None


def steps_for_epochs(epochs: int, images: int, batch_size: int, per_example: set[int]) -> int:
    """--epochs as training steps: an epoch reads every training image once, and a step reads
    ``batch_size`` elements of ``per_example`` images each (a packed GAN's ``pack``). One step
    count serves the whole run, so its models must read the same number of images a step."""
    if len(per_example) > 1:
        raise UserError(f"--epochs {epochs} converts to one step count for the whole run, and "
                        f"its models read {' or '.join(map(str, sorted(per_example)))} images "
                        "per batch element (pack); give --steps, or run each pack apart")
    return math.ceil(epochs * images / (batch_size * max(per_example, default=1)))
