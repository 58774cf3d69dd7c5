"""reports.stats: intervals against scipy's own bootstrap, the probability of improvement and
the verdict against hand-worked cases."""

import math

import numpy as np
import pytest
from scipy import stats as sp

from reports import stats


@pytest.mark.parametrize("values, method", [
    ([119.0, 104.2, 131.5, 122.0, 110.3], "percentile"),  # 5 seeds: below BCa's minimum
    (list(np.linspace(80.0, 140.0, 12) ** 1.1), "BCa"),
])
def test_mean_interval_is_scipys_bootstrap(values, method):
    assert stats.bootstrap_method(len(values)) == method
    ref = sp.bootstrap((np.asarray(values),), np.mean, method=method, n_resamples=9999,
                       confidence_level=0.95, rng=np.random.default_rng(stats.SEED))
    low, high = stats.mean_interval(values)
    assert low == pytest.approx(ref.confidence_interval.low, rel=1e-12)
    assert high == pytest.approx(ref.confidence_interval.high, rel=1e-12)
    assert low < np.mean(values) < high


def test_mean_interval_needs_two_values_and_skips_missing():
    assert stats.mean_interval([119.0]) is None
    assert stats.mean_interval([119.0, None, math.nan]) is None
    assert stats.mean_interval([3.0, 3.0, 3.0]) == (3.0, 3.0)
    # two seeds: the percentile interval of their mean cannot leave [min, max]
    low, high = stats.mean_interval([100.0, 120.0])
    assert 100.0 <= low < 110.0 < high <= 120.0


def test_probability_of_improvement_by_hand():
    # x = 3, 1, 2 against y = 2, 0: pairs (3,2) (3,0) (1,0) (2,0) win, (2,2) ties, (1,2)
    # loses: (4 + 0.5) / 6 = 0.75
    assert stats.probability_of_improvement([3, 1, 2], [2, 0]) == 0.75
    assert stats.probability_of_improvement([2, 0], [3, 1, 2]) == 0.25
    assert stats.probability_of_improvement([5], [5]) == 0.5
    # it is the Mann-Whitney U statistic over n*m
    x, y = [3.0, 1.0, 2.0], [2.0, 0.0]
    assert sp.mannwhitneyu(x, y).statistic / 6 == 0.75


def test_probability_of_improvement_turns_lower_is_better_around():
    fid_a, fid_b = [100.0, 110.0], [120.0, 105.0]  # A lower (better) in 3 of 4 pairs
    a, b = stats.oriented(fid_a, "lower"), stats.oriented(fid_b, "lower")
    assert stats.probability_of_improvement(a, b) == 0.75
    # a target metric: distance to 1 (0.9 and 1.2 are 0.1 and 0.2 away)
    assert list(stats.oriented([0.9, 1.2], "target", 1.0)) == pytest.approx([-0.1, -0.2])
    with pytest.raises(ValueError, match="target value"):
        stats.oriented([1.0], "target")
    with pytest.raises(ValueError, match="unknown direction"):
        stats.oriented([1.0], "sideways")


def test_poi_interval_brackets_the_point_and_matches_scipy():
    x, y = [3.0, 1.0, 2.0, 4.0], [2.0, 0.0, 2.5]
    point = stats.probability_of_improvement(x, y)
    low, high = stats.poi_interval(x, y)

    def poi(a, b, axis=-1):
        return np.mean((a[..., :, None] > b[..., None, :])
                       + 0.5 * (a[..., :, None] == b[..., None, :]), axis=(-2, -1))

    ref = sp.bootstrap((np.asarray(x), np.asarray(y)), poi, method="percentile",
                       vectorized=True, rng=np.random.default_rng(stats.SEED))
    assert (low, high) == pytest.approx(tuple(ref.confidence_interval))
    assert 0 <= low <= point <= high <= 1
    assert stats.poi_interval([1.0], [2.0, 3.0]) is None


def test_verdict_names_a_winner_when_welchs_interval_excludes_zero():
    # difference 9; variances 1 and 1 over 3 seeds: se = sqrt(2/3), df = 4, t(0.975, 4) = 2.776
    v = stats.compare([10.0, 11.0, 12.0], [1.0, 2.0, 3.0])
    assert v.winner == "a" and v.difference == 9.0 and v.seeds == 3
    half = sp.t.ppf(0.975, 4) * math.sqrt(2 / 3)
    assert v.interval == pytest.approx((9 - half, 9 + half))
    assert stats.compare([1.0, 2.0, 3.0], [10.0, 11.0, 12.0]).winner == "b"


def test_verdict_not_distinguishable_says_how_many_seeds():
    # difference 1, variances 16 and 4: spread sqrt(10), an effect size of 1/sqrt(10) = 0.316
    v = stats.compare([1.0, 5.0, 9.0], [2.0, 4.0, 6.0])
    assert v.winner is None and v.seeds == 3
    assert v.seeds_needed == stats.seeds_needed(1.0, 4.0, 2.0)
    assert 150 < v.seeds_needed < 165  # the normal approximation gives 157
    # 10, 14 against 40, 50: Welch's df is 1.3 at 2 seeds, so not told apart, though the
    # difference is large; the calculation's answer is at least one seed more
    v = stats.compare([10.0, 14.0], [40.0, 50.0])
    assert v.winner is None and v.seeds_needed >= 3
    assert stats.compare([1.0, 5.0, 9.0], [3.0, 5.0, 7.0]).seeds_needed is None  # equal means


def test_verdict_one_seed_has_no_winner_and_no_spread():
    v = stats.compare([100.0], [200.0, 210.0])
    assert v.winner is None and v.interval is None and v.seeds == 1 and v.seeds_needed is None
    assert stats.compare([], [1.0]).seeds == 0


def test_verdict_without_spread_is_exact():
    assert stats.compare([2.0, 2.0], [1.0, 1.0]).winner == "a"
    assert stats.compare([2.0, 2.0], [2.0, 2.0]).winner is None


def test_seeds_needed_matches_the_power_tables():
    # Cohen's (1988) table for a two-sided t-test at 5% and power 0.8: effect size d = 0.5
    # needs 64 per group, d = 0.8 needs 26, d = 1 needs 17
    assert stats.seeds_needed(0.5, 1.0) == 64
    assert stats.seeds_needed(-8.0, 10.0) == 26  # the sign of the difference does not matter
    assert stats.seeds_needed(1.0, 1.0) == 17
    assert stats.seeds_needed(10.0, 1.0) == 2  # never fewer than two
    assert stats.seeds_needed(1.0, 0.0) == 2
    assert stats.seeds_needed(0.0, 1.0) is None
    assert stats.seeds_needed(1e-3, 1.0) is None  # beyond MAX_SEEDS
    # unequal spreads: Welch's df is below 2n - 2, so it takes more than pooled spreads would
    assert stats.seeds_needed(1.0, 0.5, 1.5) > stats.seeds_needed(1.0, math.sqrt(1.25))
