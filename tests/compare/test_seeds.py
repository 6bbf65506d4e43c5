"""Arms of several seeds on simulated verdicts whose seed-to-seed variance is known: the seed sd
estimate, the hierarchical interval (as wide as the task bootstrap without seed variance,
wider with it, and covering the arm's true pass@1 where the task bootstrap does not), and the
paired seed bootstrap (near its level under no difference, where a pooled McNemar is not)."""

from __future__ import annotations

import numpy as np
import pytest

from codesift.compare.seeds import SeedRuns, seed_bootstrap_ci, seed_paired_bootstrap
from codesift.compare.stats import Outcomes, bootstrap_ci, mcnemar

RATE = 0.4


def simulate(rng: np.random.Generator, n_seeds: int, n_tasks: int, sd: float,
             difficulty: np.ndarray | None = None, rate: float = RATE) -> SeedRuns:
    """Task t passes under seed s when its difficulty d_t ~ U(0, 1) is below rate + e_s, with
    e_s ~ N(0, sd): each seed's pass@1 is rate + e_s up to the task draw, so the seeds' sd is
    `sd`, and the arm's true pass@1 (over tasks and seeds) is `rate`."""
    d = rng.random(n_tasks) if difficulty is None else difficulty
    e = rng.normal(0.0, sd, n_seeds)
    passed = (d[None, :] < rate + e[:, None]).astype(np.int64)
    ids = tuple(f"t{i:04d}" for i in range(n_tasks))
    return SeedRuns(ids, passed, np.ones_like(passed))


def pooled(r: SeedRuns) -> Outcomes:
    """The seeds as samples of one run: the task bootstrap that knows nothing of seeds."""
    return Outcomes(r.task_ids, r.passed.sum(axis=0), r.drawn.sum(axis=0))


def test_seed_sd_estimate_is_close_to_the_simulated_one():
    """Evenly spread difficulties, so that a seed's pass@1 is rate + e_s to within 1/2000
    (random ones would scale e_s by the tasks' local density near RATE)."""
    rng = np.random.default_rng(0)
    even = (np.arange(2000) + 0.5) / 2000
    for sd in (0.01, 0.03, 0.08):
        r = simulate(rng, 60, 2000, sd, even)
        assert r.seed_sd == pytest.approx(sd, rel=0.25)  # 60 seeds: a relative se of 9%
        assert r.pass_at_1 == pytest.approx(np.mean(r.per_seed))
    assert simulate(rng, 1, 50, 0.05).seed_sd is None


def test_outcomes_of_seeds_line_up_on_their_common_tasks():
    a = Outcomes.from_verdicts({"t1": [True], "t2": [False], "t3": [True]})
    b = Outcomes.from_verdicts({"t2": [True, True], "t3": [False, True]})
    r = SeedRuns.of([a, b])
    assert r.task_ids == ("t2", "t3")
    assert r.passed.tolist() == [[0, 1], [2, 1]] and r.drawn.tolist() == [[1, 1], [2, 2]]
    assert r.per_seed.tolist() == [0.5, 0.75] and r.pass_at_1 == 0.625


def test_interval_is_the_task_bootstrap_without_seed_variance_and_wider_with_it():
    rng = np.random.default_rng(1)
    same = simulate(rng, 5, 800, 0.0)  # five identical seeds
    h, t = seed_bootstrap_ci(same, 2000, 3), bootstrap_ci(pooled(same), 2000, 3)
    assert h.estimate == t.estimate
    assert h.high - h.low == pytest.approx(t.high - t.low, rel=0.1)
    varied = simulate(rng, 5, 800, 0.06)
    h, t = seed_bootstrap_ci(varied, 2000, 3), bootstrap_ci(pooled(varied), 2000, 3)
    assert h.high - h.low > 1.5 * (t.high - t.low)
    assert h.low < varied.pass_at_1 < h.high
    assert seed_bootstrap_ci(varied, 500, 4) == seed_bootstrap_ci(varied, 500, 4)  # seeded


def test_interval_covers_the_true_pass_rate_where_the_task_bootstrap_does_not():
    """150 simulated arms of 5 seeds with a seed sd of 6 points on 1000 tasks: the seed
    variance dominates; a 95% interval should hold RATE about 95% of the time (a little less
    with 5 seeds, see seeds.py)."""
    rng = np.random.default_rng(2)
    hier = tasks = 0
    for i in range(150):
        r = simulate(rng, 5, 1000, 0.06)
        h, t = seed_bootstrap_ci(r, 400, i), bootstrap_ci(pooled(r), 400, i)
        hier += h.low <= RATE <= h.high
        tasks += t.low <= RATE <= t.high
    assert hier / 150 >= 0.85
    assert tasks / 150 <= hier / 150 - 0.15


def test_paired_seed_bootstrap_holds_its_level_where_pooled_mcnemar_does_not():
    """Two arms equally good on average (each task's difficulty shifted a little per arm),
    5 seeds each with a seed sd of 2 points, HumanEval's 164 tasks. Pairing seed k with seed
    k and counting every seed's tasks as pairs (a pooled McNemar) ignores the seed variance
    and counts a task five times."""
    rng = np.random.default_rng(3)
    n, seed_rejects, mcnemar_rejects = 100, 0, 0
    for i in range(n):
        d = rng.random(164)
        a = simulate(rng, 5, 164, 0.02, d)
        b = simulate(rng, 5, 164, 0.02, np.clip(d + rng.normal(0, 0.1, 164), 0, 1))
        seed_rejects += seed_paired_bootstrap(a, b, 500, i).p_value < 0.05
        mcnemar_rejects += mcnemar(flat(a), flat(b)).p_value < 0.05
    assert seed_rejects / n <= 0.12
    assert mcnemar_rejects / n >= 0.25


def flat(r: SeedRuns) -> Outcomes:
    """Every (seed, task) cell as a task of its own."""
    s, t = r.passed.shape
    ids = tuple(f"{i}/{task}" for i in range(s) for task in r.task_ids)
    return Outcomes(ids, r.passed.reshape(-1), np.ones(s * t, dtype=np.int64))


def test_paired_seed_bootstrap_finds_a_real_difference():
    rng = np.random.default_rng(4)
    d = rng.random(164)
    a, b = simulate(rng, 3, 164, 0.02, d), simulate(rng, 3, 164, 0.02, d, rate=0.6)
    t = seed_paired_bootstrap(a, b, 2000, 0)
    assert t.test == "paired seed bootstrap" and t.n_tasks == 164
    assert t.difference == pytest.approx(b.pass_at_1 - a.pass_at_1) and t.difference > 0.1
    assert t.p_value == pytest.approx(1 / 2001)
    same = seed_paired_bootstrap(a, a, 500, 0)
    assert same.difference == 0 and same.p_value == 1.0
