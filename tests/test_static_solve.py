"""The DEL solve's hot path is static: a no-grad step and a world-model rollout trace into one graph (a graph
break fails), replay from a captured CUDA graph with eager results, and read nothing on the host."""

from __future__ import annotations

import copy

import pytest
import torch

from lawm_env.graphs import GraphedFunction, eager
from lawm_env.mechanics import DELStepper, DiscreteForcing, MechanicalLagrangian
from lawm_env.model import WorldModel, WorldModelConfig


def _stepper(device: torch.device | str = "cpu") -> DELStepper:
    torch.manual_seed(0)
    lag = MechanicalLagrangian(6, 0.1, hidden=32).to(device)
    return DELStepper(lag, DiscreteForcing(6, 2, 0.1).to(device), tol=1e-4, max_iter=6)


def _inputs(batch: int, device: torch.device | str = "cpu", seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    q_prev = torch.randn(batch, 6, generator=g)
    q = q_prev + 0.3 * torch.randn(batch, 6, generator=g)  # latent speeds of 3: several iterations, not all alike
    u_prev, u = (torch.rand(batch, 2, generator=g) * 2 - 1 for _ in range(2))
    return (t.to(device) for t in (q_prev, q, u_prev, u))


def _world_model(device: torch.device | str = "cpu") -> WorldModel:
    torch.manual_seed(0)
    config = WorldModelConfig(action_dim=1, latent_dim=4, hidden=32, channels=8, image_size=32, max_iter=4)
    return WorldModel(config).to(device).eval()


def _rollout_inputs(model: WorldModel, batch: int, horizon: int, seed: int = 2):
    g = torch.Generator().manual_seed(seed)
    q_prev = torch.randn(batch, 4, generator=g)
    q = q_prev + 0.2 * torch.randn(batch, 4, generator=g)
    device = next(model.parameters()).device
    actions = (torch.rand(batch, horizon, 1, generator=g) * 2 - 1).to(device)
    return model.start(q_prev.to(device), q.to(device), torch.zeros(batch, 1, device=device)), actions


def test_no_grad_del_step_traces_into_one_graph():
    stepper = _stepper()
    q_prev, q, u_prev, u = _inputs(64)
    torch._dynamo.reset()
    traced = torch.compile(stepper.step, fullgraph=True, backend="eager")
    with torch.no_grad():
        state = stepper.start(q_prev, q, u_prev)
        eager, eager_info = stepper.step(state, u)
        compiled, info = traced(state, u)
    assert eager_info.iterations.min() < eager_info.iterations.max()  # the eager step stopped rows early
    assert torch.equal(info.iterations, eager_info.iterations) and torch.equal(info.converged, eager_info.converged)
    torch.testing.assert_close(compiled.q, eager.q, rtol=0, atol=1e-5)  # float32 round-off of other batchings


def test_world_model_rollout_and_masked_step_trace_into_one_graph():
    model = _world_model()
    state, actions = _rollout_inputs(model, 32, 3)
    torch._dynamo.reset()
    with torch.no_grad():
        _, eager = model.rollout(state, actions)
        _, compiled = torch.compile(model.rollout, fullgraph=True, backend="eager")(state, actions)
        active = torch.arange(32) % 3 != 0
        masked, masked_info = torch.compile(model.step, fullgraph=True, backend="eager")(state, actions[:, 0], active)
    assert torch.equal(compiled.iterations, eager.iterations) and torch.equal(compiled.converged, eager.converged)
    torch.testing.assert_close(compiled.positions, eager.positions, rtol=0, atol=1e-5)
    torch.testing.assert_close(compiled.rewards, eager.rewards, rtol=0, atol=1e-5)
    assert (masked_info.iterations[~active] == 0).all() and (masked_info.iterations[active] > 0).all()


def test_graphed_function_runs_eagerly_off_cuda_and_copies_without_graphs():
    model = _world_model()
    state, actions = _rollout_inputs(model, 8, 2)
    with torch.no_grad():
        _, out = model.rollout(state, actions)
        _, direct = model._rollout(state, actions)
    torch.testing.assert_close(out.positions, direct.positions, rtol=0, atol=0)
    assert len(model._graphed_rollout) == 0  # nothing captured on the CPU
    twin = copy.deepcopy(model)
    assert twin._graphed_rollout.modules == (twin,) and twin._graphed_rollout.fn.__self__ is twin
    assert twin.transition.stepper._graphed_solve.fn.__self__ is twin.transition.stepper
    calls = []
    graphed = GraphedFunction(lambda x: calls.append(x) or x * 2)
    assert torch.equal(graphed(torch.ones(2)), torch.full((2,), 2.0)) and len(calls) == 1


@pytest.mark.gpu
def test_captured_rollout_and_step_replay_eager_results_on_cuda():
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    model = _world_model("cuda")
    with torch.no_grad():
        for seed in (2, 3):  # the second call replays the graph captured by the first, on new inputs
            state, actions = _rollout_inputs(model, 64, 5, seed)
            _, replayed = model.rollout(state, actions)
            _, eager = model._rollout(state, actions)
            assert torch.equal(replayed.iterations, eager.iterations)
            torch.testing.assert_close(replayed.positions, eager.positions, rtol=0, atol=1e-5)
            step, info = model.step(state, actions[:, 0])
            eager_step, eager_info = model._step(state, actions[:, 0], None)
            torch.testing.assert_close(step.q, eager_step.q, rtol=0, atol=1e-5)
    assert len(model._graphed_rollout) == 1 and len(model._graphed_step) == 1
    state, actions = _rollout_inputs(model, 64, 5)
    _, with_grad = model.rollout(state, actions)  # grad mode: eager, nothing new captured
    assert len(model._graphed_rollout) == 1


@pytest.mark.gpu
def test_static_step_never_synchronizes_with_the_host_on_cuda():
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    stepper = _stepper("cuda")
    q_prev, q, u_prev, u = _inputs(256, "cuda")
    with torch.no_grad():
        state = stepper.start(q_prev, q, u_prev)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            for _ in range(3):
                state, info = stepper.step(state, u)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    assert info.converged.float().mean().item() > 0.9


@pytest.mark.gpu
def test_replays_with_failed_rows_are_repaired_and_later_captures_still_work_on_cuda():
    """With one quasi-Newton iteration most rows fail inside the replayed graph; the repair solves them again eagerly
    (with the rescue), and graphs of other shapes are captured and replayed after it, all equal to eager runs."""
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    torch.manual_seed(0)
    config = WorldModelConfig(action_dim=1, latent_dim=4, hidden=32, channels=8, image_size=32, max_iter=1)
    model = WorldModel(config).cuda().eval()
    with torch.no_grad():
        for batch, seed in ((64, 2), (1, 3), (64, 4), (5, 5)):
            state, actions = _rollout_inputs(model, batch, 5, seed)
            _, replayed = model.rollout(state, actions)
            with eager():
                _, reference = model.rollout(state, actions)
            assert (reference.iterations > 1).any()  # the rescue ran: the one-iteration solve failed somewhere
            assert torch.equal(replayed.converged, reference.converged)
            torch.testing.assert_close(replayed.positions, reference.positions, rtol=0, atol=1e-5)
            step, info = model.step(state, actions[:, 0])
            with eager():
                eager_step, eager_info = model.step(state, actions[:, 0])
            assert torch.equal(info.converged, eager_info.converged)
            torch.testing.assert_close(step.q, eager_step.q, rtol=0, atol=1e-5)
    assert len(model._graphed_rollout) == 3


def test_rows_that_fail_in_a_replay_are_solved_again_eagerly():
    """The repair that follows a CUDA-graph replay, run here on the CPU: the rows whose replayed solve failed (here
    made to look failed and moved) are solved again eagerly, where the rescue runs; the others are kept. Step and
    rollout end as the eager step and rollout of the whole batch."""
    model = _world_model()
    state, actions = _rollout_inputs(model, 16, 3)
    broken = torch.arange(16) % 4 == 0
    with torch.no_grad():
        step, info = model._step(state, actions[:, 0], None)
        failed = (step._replace(q=torch.where(broken[:, None], step.q + 1.0, step.q)), info._replace(converged=info.converged & ~broken))
        repaired, repaired_info = model._repair_step((state, actions[:, 0], None), failed)
        final, imagined = model._rollout(state, actions)
        moved = imagined._replace(positions=torch.where(broken[:, None, None], imagined.positions + 1.0, imagined.positions),
                                  converged=imagined.converged & ~broken[:, None])
        _, repaired_rollout = model._repair_rollout((state, actions), (final, moved))
    torch.testing.assert_close(repaired.q, step.q, rtol=0, atol=1e-6)
    assert torch.equal(repaired_info.converged, info.converged)
    torch.testing.assert_close(repaired_rollout.positions, imagined.positions, rtol=0, atol=1e-6)
    assert torch.equal(repaired_rollout.converged, imagined.converged)
