"""The papers' published figures: the rows of a table a preset reproduces, as results.json's
``published`` (the report sets them under our rows, with the difference and whether our mean
lies inside the paper's interval: ``reports/published.py``).

A preset names the table it reproduces (``Preset.reproduces``); ``for_run`` looks its rows up
for the run's dataset. A row says which of our rows it sits beside: the model and the settings
that matter (pack; metz's discriminator size, ``d_filters``), matched against each run's
model settings by the report. Figures are in the record's units: a share as 0..1 (the paper's
98.2 % is 0.982).

Checked against the paper (Lin, Khetan, Fanti, Oh, "PacGAN: The power of two samples in
generative adversarial networks", NeurIPS 2018) as the images of its Tables 1 to 3 in its
authors' repository, fjxmlzn/PacGAN (synthetic_data_experiments/results/Table1.png,
stacked_MNIST_experiments/results/Table2.png and Table3.png), captions included:
- Table 1: "averaged over 10 trials shown with the standard error" (2-D ring and grid);
- Table 2: "The PacDCGAN results are averaged over 10 trials, with standard error reported";
  its own DCGAN row is "DCGAN (our implementation)" 78.9 ± 6.46, KL 4.50 ± 0.127 (the 99.0 /
  3.40 row above it is VEEGAN's DCGAN, quoted without a spread, another implementation: not
  ours to sit beside); PacDCGAN's KL spreads are 0.003, 0.003 and 0.005;
- Table 3: "averaged over 50 trials, with standard error reported"; D = 1/4 and 1/2 of G.
ALI's and unrolled GAN's rows are left out: no model here is theirs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Spread = Literal["s.e.", "s.d."]  # standard error of the mean; standard deviation over runs


@dataclass(frozen=True)
class Figure:
    mean: float
    spread: float | None  # None: the paper gives the mean alone (no interval)
    kind: Spread | None
    runs: int


@dataclass(frozen=True)
class Row:
    label: str  # the paper's name for the row: "PacGAN2"
    model: str  # ours that it sits beside
    settings: dict[str, object]  # the model settings that pick our row: {"pack": 2}
    figures: dict[str, Figure]  # metric key (metrics/info.py) -> the paper's figure


@dataclass(frozen=True)
class Table:
    source: str
    rows: dict[str, tuple[Row, ...]] = field(default_factory=dict)  # dataset -> its rows


PACGAN = "Lin et al. 2018 (PacGAN)"


def _se(runs: int, **figures: tuple[float, float]) -> dict[str, Figure]:
    return {key: Figure(mean, spread, "s.e.", runs) for key, (mean, spread) in figures.items()}


def _mixture(label: str, pack: int, modes, hq_percent, kl) -> Row:
    hq = (round(hq_percent[0] / 100, 6), round(hq_percent[1] / 100, 6))  # % -> share
    return Row(label, "gan", {"pack": pack},
               _se(10, mixture_modes=modes, high_quality=hq, reverse_kl=kl))


def _stacked(label: str, model: str, settings: dict, runs: int, modes, kl) -> Row:
    return Row(label, model, settings, _se(runs, modes_1000=modes, kl_triples=kl))


def _pac(m: int, name: str = "GAN") -> str:
    return f"Pac{name}{m}" if m > 1 else name


# (pack, modes, high-quality %, reverse KL), mean and standard error: Table 1 as printed
TABLE1 = {
    "ring": ((1, (6.3, 0.5), (98.2, 0.2), (0.45, 0.09)),
             (2, (7.9, 0.1), (95.6, 2.0), (0.07, 0.03)),
             (3, (7.8, 0.1), (97.7, 0.3), (0.10, 0.02)),
             (4, (7.8, 0.1), (95.9, 1.4), (0.07, 0.02))),
    "grid": ((1, (17.3, 0.8), (94.8, 0.7), (0.70, 0.07)),
             (2, (23.8, 0.7), (91.3, 0.8), (0.13, 0.04)),
             (3, (24.6, 0.4), (94.2, 0.4), (0.06, 0.02)),
             (4, (24.8, 0.2), (93.6, 0.6), (0.04, 0.01))),
}
# (pack, modes of 1,000, KL): Table 2's "DCGAN (our implementation)" and PacDCGAN rows
TABLE2 = ((1, (78.9, 6.46), (4.50, 0.127)),
          (2, (1000.0, 0.0), (0.06, 0.003)),
          (3, (1000.0, 0.0), (0.06, 0.003)),
          (4, (1000.0, 0.0), (0.07, 0.005)))
# (metz's d_filters, D's size against G, pack, modes of 1,000, KL): Table 3's DCGAN (our
# implementation) and PacDCGAN rows; d_filters 2 is D = 1/4 G, 4 is D = 1/2 G (models/metz.py)
TABLE3 = ((2, "0.25", 1, (78.5, 17.56), (5.21, 0.19)),
          (2, "0.25", 2, (484.5, 32.99), (2.61, 0.22)),
          (2, "0.25", 3, (601.3, 32.18), (2.00, 0.17)),
          (2, "0.25", 4, (667.4, 29.00), (1.81, 0.15)),
          (4, "0.5", 1, (487.7, 34.59), (2.24, 0.15)),
          (4, "0.5", 2, (840.7, 15.92), (1.00, 0.05)),
          (4, "0.5", 3, (866.6, 12.10), (0.90, 0.04)),
          (4, "0.5", 4, (820.2, 25.50), (1.15, 0.14)))

TABLES: dict[str, Table] = {
    "pacgan-table1": Table(f"{PACGAN}, Table 1", {
        dataset: tuple(_mixture(_pac(m), m, *figs) for m, *figs in table)
        for dataset, table in TABLE1.items()}),
    "pacgan-table2": Table(f"{PACGAN}, Table 2", {"stacked-mnist": tuple(
        _stacked(_pac(m, "DCGAN"), "dcgan_tf", {"pack": m}, 10, modes, kl)
        for m, modes, kl in TABLE2)}),
    "pacgan-table3": Table(f"{PACGAN}, Table 3", {"stacked-mnist": tuple(
        _stacked(f"{_pac(m, 'DCGAN')}, D={size}G", "metz", {"pack": m, "d_filters": filters},
                 50, modes, kl)
        for filters, size, m, modes, kl in TABLE3)}),
}


def rows(table: str | None, dataset: str | None) -> tuple[Row, ...]:
    """The published rows of ``table`` for ``dataset``; none for no table, or a dataset the
    table has no rows for."""
    if table is None:
        return ()
    return TABLES[table].rows.get(dataset or "", ())


def record(table: str, row: Row) -> dict:
    """One entry of results.json's ``published`` (reports/schema.py ``Published``)."""
    return {"source": TABLES[table].source, "label": row.label, "model": row.model,
            "settings": dict(row.settings),
            "metrics": {key: {"mean": f.mean, "spread": f.spread, "spread_kind": f.kind,
                              "runs": f.runs} for key, f in row.figures.items()}}


def for_run(preset: str, dataset: str | None) -> list[dict]:
    """What a run of ``preset`` on ``dataset`` writes as results.json's ``published``."""
    from benchmarks.config import PRESETS

    table = PRESETS[preset].reproduces
    return [record(table, row) for row in rows(table, dataset)]
