"""Ranking agreement between objectives: Spearman's correlation, candidate plans, and the ranking report."""

from __future__ import annotations

import math

import pytest
import torch

from planners.fidelity import RankingReport, candidate_plans, rank_correlation


def test_rank_correlation_of_known_orders():
    x = torch.randn(50, generator=torch.Generator().manual_seed(0))
    assert rank_correlation(x, x) == pytest.approx(1.0)
    assert rank_correlation(x, torch.exp(3 * x)) == pytest.approx(1.0)  # any increasing map keeps the ranks
    assert rank_correlation(x, -x) == pytest.approx(-1.0)
    a, b = torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([1.0, 3.0, 2.0, 4.0])
    assert rank_correlation(a, b) == pytest.approx(1 - 6 * 2 / (4 * 15))  # 1 - 6Σd²/(n(n²-1)), one swap
    assert math.isnan(rank_correlation(a, torch.ones(4)))
    with pytest.raises(ValueError, match="vectors"):
        rank_correlation(a, a[:3])


def test_candidate_plans_are_bounded_seeded_and_near_and_far():
    plan = torch.linspace(-0.9, 0.9, 12)[:, None]
    make = lambda seed: candidate_plans(plan, 60, torch.Generator().manual_seed(seed))  # noqa: E731
    c = make(0)
    assert c.shape == (60, 12, 1) and c.min() >= -1 and c.max() <= 1
    assert torch.equal(c, make(0)) and not torch.equal(c, make(1))
    distance = (c - plan).abs().mean((1, 2))
    assert distance[:10].max() < 0.1 < distance[-10:].min()  # the smallest perturbations first, uniform draws last
    with pytest.raises(ValueError, match="at least"):
        candidate_plans(plan, 5, torch.Generator())


def test_ranking_report_splits_states_by_their_best_true_return():
    report = RankingReport([1.0, 0.5, 0.0, -0.5], [10.0, 8.0, 2.0, 1.0], [10.0, 6.0, 1.0, 0.0])
    lines = report.summary().splitlines()
    assert lines[0] == "4 states: rank correlation 0.250; the model's first choice earns 4.2 of the best candidate's 5.2 true return"
    assert "(2 states): rank correlation 0.750; the model's first choice earns 8.0 of the best candidate's 9.0" in lines[1]
    assert "(2 states): rank correlation -0.250; the model's first choice earns 0.5 of the best candidate's 1.5" in lines[2]
    assert RankingReport().summary() == "0 states"
    assert len(RankingReport([float("nan")], [1.0], [1.0]).summary().splitlines()) == 1


def test_ranking_report_of_a_perfect_and_a_reversed_model():
    truth = lambda a: -(a - 0.3).square().sum((1, 2))  # noqa: E731
    candidates = candidate_plans(torch.zeros(6, 2), 48, torch.Generator().manual_seed(0))
    report = RankingReport()
    report.add(truth, truth, candidates)
    report.add(lambda a: -truth(a), truth, candidates)
    assert report.correlations == [pytest.approx(1.0), pytest.approx(-1.0)]
    assert report.picked[0] == report.best[0] and report.picked[1] == pytest.approx(float(truth(candidates).min()))
    assert report.summary().startswith("2 states: rank correlation 0.000")
