"""Ranking agreement between objectives: Spearman's correlation, candidate plans, the ranking report, and the
start check from the real reset."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lawm_env.evaluation.plan_fidelity import RankingReport, StartReport, candidate_plans, measure_start, probe_sequences, rank_correlation


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


def test_probe_sequences_name_hold_and_swing_within_the_bounds():
    names, seqs = probe_sequences(6, 2, 5, torch.Generator().manual_seed(0), low=-1.0, high=0.5)
    assert seqs.shape == (12, 6, 2) and len(names) == 12 and names.count("random") == 5
    by_name = dict(zip(names, seqs))
    assert torch.equal(by_name["nothing"], torch.zeros(6, 2))
    assert torch.equal(by_name["hold +0.5"], torch.full((6, 2), 0.5)) and torch.equal(by_name["hold -1"], -torch.ones(6, 2))
    assert by_name["swing every 2, +0.5 first"][:, 0].tolist() == [0.5, 0.5, -1, -1, 0.5, 0.5]
    assert by_name["swing every 4, -1 first"][:, 1].tolist() == [-1, -1, -1, -1, 0.5, 0.5]
    assert seqs.min() >= -1.0 and seqs.max() <= 0.5
    again = probe_sequences(6, 2, 5, torch.Generator().manual_seed(0), low=-1.0, high=0.5)[1]
    assert torch.equal(seqs, again)
    assert not torch.equal(seqs[-5:], probe_sequences(6, 2, 5, torch.Generator().manual_seed(1), -1.0, 0.5)[1][-5:])
    shifted = dict(zip(*probe_sequences(3, 1, 0, torch.Generator(), low=0.2, high=1.0)))
    assert torch.equal(shifted["nothing"], torch.full((3, 1), 0.2))  # zero clipped to the bounds
    for bad in [dict(horizon=0), dict(random=-1), dict(low=1.0, high=1.0)]:
        with pytest.raises(ValueError):
            probe_sequences(**{**dict(horizon=4, action_dim=1, random=2, generator=torch.Generator()), **bad})


def test_start_report_summarizes_drift_probes_and_where_doing_nothing_ranks():
    report = StartReport(["nothing", "hold +1", "random", "random"])
    report.add(torch.tensor([5.0, 1.0, 2.0, 3.0]), torch.tensor([0.0, 4.0, 1.0, 2.0]), torch.tensor([0.0, 0.5, 1.0, 2.0, 4.0]))
    report.add(torch.tensor([1.0, 3.0, 2.0, 0.0]), torch.tensor([0.0, 6.0, 1.0, 3.0]), torch.tensor([0.0, 0.5, 1.0, 2.0, 2.0]))
    text = report.summary()
    assert "2 starts from the reset, horizon 5" in text
    assert "0.000 after 1, 2.000 after 4, 3.000 after 5" in text
    assert "nothing" in text and "3.00      0.00" in text  # mean imagined 3, true 0
    assert "random, mean of 2" in text and "random, best of 2" in text and "2.50      2.50" in text
    assert "doing nothing ranks 2.0 of 4 in imagination (4.0 in truth)" in text  # ranks 1 and 3
    assert len(report.ranking.correlations) == 2
    assert StartReport(["nothing"]).summary() == "0 starts"
    with pytest.raises(ValueError, match="returns"):
        report.add(torch.zeros(3), torch.zeros(3), torch.zeros(5))


def test_measure_start_scores_from_the_static_pair_of_the_real_reset(tiny_checkpoint64):
    from lawm_env.data.dmc import make_pixel_env, run_episode
    from lawm_env.model.io import load_world_model
    from agents.imagined_return import ImaginedReturn
    from lawm_env.evaluation.simulator_return import SimulatorReturn

    model = load_world_model(tiny_checkpoint64)
    names, seqs = probe_sequences(4, 1, 3, torch.Generator().manual_seed(0))
    env = make_pixel_env("cartpole-swingup")
    try:
        truth = SimulatorReturn(env, "cartpole-swingup")
        report = StartReport(names)
        for _ in range(2):
            measure_start(model, env, truth, 3, seqs, report)
        episode = run_episode(env, 3, 4, lambda frame, state: np.zeros(1, np.float32))
        env.reset(seed=3)
        true = truth(seqs).double()
    finally:
        env.close()
    with torch.no_grad():
        q0 = model.encode_frame(episode.obs[0])
        imagined = ImaginedReturn(model)
        imagined.set_start(q0, q0, torch.zeros(1))
        expected = imagined(seqs).double()
        real = torch.stack([model.encode_frame(frame) for frame in episode.obs[1:]])
        _, rollout = model.rollout(model.start(q0[None], q0[None], torch.zeros(1, 1)), torch.zeros(1, 4, 1))
        drift = model.latent_distance(rollout.positions[0], real).double()
    for k in range(2):  # the same start twice: the same figures (the env is reset by seed each time)
        torch.testing.assert_close(report.imagined[k], expected)
        torch.testing.assert_close(report.true[k], true)
        torch.testing.assert_close(report.drift[k], drift)
    assert report.true[0][names.index("nothing")] < report.true[0][names.index("hold +1")]  # hanging earns less
