"""The interval and the paired tests against values computed by hand or directly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from codesift.compare.stats import (
    Outcomes,
    bootstrap_ci,
    mcnemar,
    paired_bootstrap,
    paired_test,
)


def single(passed: list[bool], prefix: str = "t") -> Outcomes:
    return Outcomes.from_verdicts({f"{prefix}{i:03d}": [p] for i, p in enumerate(passed)})


def test_exact_mcnemar_on_a_known_table():
    """b = 1 task passed by the baseline only, c = 9 by the other only, 10 by both, 5 by
    neither: two-sided exact p = 2 * (C(10,0) + C(10,1)) / 2**10."""
    base = [True] * 10 + [True] + [False] * 9 + [False] * 5
    other = [True] * 10 + [False] + [True] * 9 + [False] * 5
    t = mcnemar(single(base), single(other))
    assert (t.base_only, t.other_only, t.n_tasks) == (1, 9, 25)
    assert t.p_value == pytest.approx(2 * (math.comb(10, 0) + math.comb(10, 1)) / 2**10)
    assert t.p_value == pytest.approx(0.021484375) and t.significant
    assert t.difference == pytest.approx(8 / 25)
    assert mcnemar(single(other), single(base)).p_value == pytest.approx(t.p_value)


def test_mcnemar_without_discordant_tasks_is_p_1():
    x = single([True, False, True])
    assert mcnemar(x, x).p_value == 1.0


def test_bootstrap_ci_is_the_percentile_interval_of_resampled_means():
    rng = np.random.default_rng(123)
    passed = rng.random(40) < 0.6
    o = single(list(passed))
    for n_resamples in (1000, 3000):
        direct = np.random.default_rng(7).integers(0, 40, size=(n_resamples, 40))
        means = passed.astype(float)[direct].mean(axis=1)
        low, high = np.percentile(means, [2.5, 97.5])
        ci = bootstrap_ci(o, n_resamples, seed=7)
        assert (ci.low, ci.high) == (low, high)
        assert ci.estimate == passed.mean()
    assert bootstrap_ci(o, 1000, seed=7) == bootstrap_ci(o, 1000, seed=7)  # seeded


def test_two_level_bootstrap_redraws_samples_within_tasks():
    """With several samples per task the interval also reflects within-task noise: tasks that
    all sit at 50% give a zero-width one-level interval but not a zero-width two-level one."""
    o = Outcomes.from_verdicts({f"t{i}": [True, False, True, False] for i in range(30)})
    assert not o.single and o.pass_at_1 == 0.5
    ci = bootstrap_ci(o, 2000, seed=0)
    assert ci.low < 0.5 < ci.high
    assert ci.high - ci.low == pytest.approx(2 * 1.96 * math.sqrt(0.25 / 120), rel=0.25)


def test_paired_bootstrap_on_identical_verdicts_is_p_1():
    o = Outcomes.from_verdicts({f"t{i}": [i % 2 == 0, i % 3 == 0, True] for i in range(50)})
    t = paired_bootstrap(o, o, 2000, seed=1)
    assert t.p_value == 1.0 and t.difference == 0 and not t.significant


def test_paired_bootstrap_detects_a_clear_difference_and_pairs_by_task():
    a = Outcomes.from_verdicts({f"t{i}": [i % 2 == 0] * 4 for i in range(60)})
    b = Outcomes.from_verdicts({f"t{i}": [True] * 4 for i in range(60)})
    t = paired_bootstrap(a, b, 2000, seed=0)
    assert t.difference == pytest.approx(0.5) and t.p_value == pytest.approx(1 / 2001)
    assert paired_test(a, b, 2000).test == "paired bootstrap"
    assert paired_test(single([True, False]), single([False, True])).test == "mcnemar"


def test_tests_use_the_common_tasks_only():
    a = Outcomes.from_verdicts({"x": [True], "y": [False], "only_a": [True]})
    b = Outcomes.from_verdicts({"x": [True], "y": [True], "only_b": [False]})
    t = mcnemar(a, b)
    assert (t.n_tasks, t.base_only, t.other_only) == (2, 0, 1)
    with pytest.raises(ValueError, match="no task"):
        mcnemar(single([True], "a"), single([True], "b"))
