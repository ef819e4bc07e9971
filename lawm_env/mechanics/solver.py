"""The forced discrete Euler–Lagrange step: given (q_{k-1}, q_k) and actions, solve for q_{k+1}.

    r(q_{k+1}) = D2 L_d(q_{k-1}, q_k) + F_d⁺(q_{k-1}, q_k, u_{k-1}) + D1 L_d(q_k, q_{k+1}) + F_d⁻(q_k, q_{k+1}, u_k) = 0

The first two terms are the discrete momentum p_k, which a rollout carries from the previous step's last
Newton evaluation instead of recomputing it. Two paths:

- explicit: a separable Lagrangian with affine forcing gives a linear equation, solved in one step
  (Störmer–Verlet with the forcing folded in);
- implicit: batched quasi-Newton (``newton.damped_newton``) warm-started by an explicit predictor. With a
  structured Lagrangian the Newton matrix K ≈ -∂r/∂q_{k+1} is M/h + R/2 (M = CCᵀ + eps·I from a learned
  mass factor), built once per step at the predictor. Its inverse starts a quasi-Newton iteration whose
  Broyden updates recover the Jacobian's velocity terms that K misses; the updated inverse also serves the
  next step's predictor. Without structure, the exact Jacobian from autograd.

The implicit step is static-shape tensor code: a fixed iteration budget, rows frozen by masking once they
converge, no row selection and no value read on the host, so a step and a rollout trace into one graph
(``torch.compile(fullgraph=True)``; a captured CUDA graph). On the CPU an eager step stops iterating once every
row is frozen, which changes no result. With ``rescue=True``, rows that still fail get Newton with the full
Jacobian by forward differences, from four starts in turn (the prediction, the best iterate, constant
velocity, rest): only those rows, only when a row failed. That reads the verdicts on the host, so it runs after
the static solve, and never inside a trace or a CUDA-graph capture.

Gradients through the implicit path use the implicit function theorem: backward solves Jᵀλ = g at the
solution and sends -λ through a single residual evaluation, so memory does not grow with iterations.
"""

from __future__ import annotations

from typing import Callable, Literal, NamedTuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from lawm_env.graphs import GraphedFunction
from lawm_env.mechanics.autodiff import forward_difference_jacobian, value_and_batch_jacobian
from lawm_env.mechanics.checks import check_actions, check_configurations, default_tolerance
from lawm_env.mechanics.forcing import DiscreteForcing, ForceFn, Forcing, as_forcing
from lawm_env.mechanics.lagrangians import DiscreteLagrangian, Partials, SeparableLagrangian, as_lagrangian
from lawm_env.mechanics.linalg import batched_matvec, factor_mass, spd_inverse
from lawm_env.mechanics.newton import NewtonResult, damped_newton
from lawm_env.mechanics.rows import put_rows, take_rows

JacobianMode = Literal["structured", "exact"]
Method = Literal["auto", "newton"]


class DELInfo(NamedTuple):
    """Solver report of one DEL step, per sample."""

    iterations: Tensor
    """Newton iterations (the explicit path counts its one linear solve as 1)."""
    residual: Tensor
    """‖r(q_{k+1})‖₂ at the returned solution."""
    converged: Tensor
    """residual ≤ tol."""


class DELState(NamedTuple):
    """What a step needs from the previous one: the pair (q_{k-1}, q_k) and, on the implicit path, the
    discrete momentum p_k, D1 L_d(q_{k-1}, q_k), the inverse Newton matrix near that pair (batch, d, d), for
    the predictor, and the previous step's predictor error, which varies smoothly along a trajectory and is
    added to the next prediction."""

    q_prev: Tensor
    q: Tensor
    u_prev: Tensor | None
    momentum: Tensor | None = None
    d1: Tensor | None = None
    newton_inverse: Tensor | None = None
    predictor_error: Tensor | None = None


class _ImplicitSolution(torch.autograd.Function):
    """Identity on the solution x*; backward turns the incoming gradient g into -λ with Jᵀλ = g and
    hands it to the residual r(x*) (whose graph reaches parameters, previous states and actions)."""

    @staticmethod
    def forward(ctx, x_star: Tensor, residual: Tensor, jacobian_fn: Callable[[], Tensor]) -> Tensor:  # type: ignore[override]
        ctx.jacobian_fn = jacobian_fn
        return x_star.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[None, Tensor, None]:  # type: ignore[override]
        jac = ctx.jacobian_fn()
        lam = torch.linalg.solve(jac.mT, grad.unsqueeze(-1)).squeeze(-1)
        return None, -lam, None


class DELStepper:
    """Forced DEL integrator for one Lagrangian and forcing: ``start`` a pair, then ``step`` with actions."""

    def __init__(
        self,
        lagrangian: DiscreteLagrangian | Callable[[Tensor, Tensor], Tensor],
        force: Forcing | ForceFn | None = None,
        *,
        tol: float | None = None,
        max_iter: int = 20,
        jacobian: JacobianMode = "structured",
        method: Method = "auto",
        rtol: float = 0.0,
        rescue: bool = False,
    ) -> None:
        if jacobian not in ("structured", "exact"):
            raise ValueError(f"jacobian must be 'structured' or 'exact', got {jacobian!r}")
        if method not in ("auto", "newton"):
            raise ValueError(f"method must be 'auto' or 'newton', got {method!r}")
        self.lagrangian = as_lagrangian(lagrangian)
        self.force = as_forcing(force)
        self.tol, self.rtol, self.max_iter, self.jacobian, self.rescue = tol, rtol, max_iter, jacobian, rescue
        self._graphed_solve = GraphedFunction(self._solve, *(m for m in (self.lagrangian, self.force) if m is not None))
        self.explicit = (
            method == "auto"
            and isinstance(self.lagrangian, SeparableLagrangian)
            and (self.force is None or (isinstance(self.force, DiscreteForcing) and self.force.linear))
        )

    # ----------------------------------------------------------------------------------------- helpers
    def _forcing(self, q0: Tensor, q1: Tensor, u: Tensor | None):
        if self.force is None:
            if u is not None:
                raise ValueError("actions were given but there is no force to apply them: pass force=...")
            return None
        return self.force(q0, q1, u)

    def _residual_parts(self, q: Tensor, p: Tensor, u: Tensor | None, x: Tensor):
        part = self.lagrangian.partials(q, x)
        terms = self._forcing(q, x, u)
        r, p_next = p + part.d1, part.d2
        if terms is not None:
            r, p_next = r + terms.minus, p_next + terms.plus
        return r, p_next, part, terms

    def _residual_and_momentum(self, q: Tensor, p: Tensor, u: Tensor | None, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """r(x), the momentum p_{k+1} at x and D1 L_d(q, x)."""
        r, p_next, part, _ = self._residual_parts(q, p, u, x)
        return r, p_next, part.d1

    # -------------------------------------------------------------------------------------------- API
    def start(self, q_prev: Tensor, q: Tensor, u_prev: Tensor | None = None) -> DELState:
        """State of the pair (q_{k-1}, q_k), reached under action ``u_prev`` (None: no or zero action)."""
        if self.explicit:
            return DELState(q_prev, q, u_prev)
        part = self.lagrangian.partials(q_prev, q)
        terms = self._forcing(q_prev, q, u_prev)
        momentum = part.d2 if terms is None else part.d2 + terms.plus
        return DELState(q_prev, q, u_prev, momentum, part.d1, self._newton_inverse(part, terms))

    def _newton_inverse(self, part: Partials, terms) -> Tensor | None:
        """K⁻¹ per sample (batch, d, d) for K = M/h + R/2 ≈ -∂r/∂q_{k+1} from the structure of the Lagrangian, as
        the start of a Broyden iteration; None without structure (use the exact Jacobian). Non-finite rows where
        K is not positive definite: the iteration treats them as failed directions."""
        if self.jacobian == "exact":
            return None
        h = self.lagrangian.dt
        shift = None if terms is None or terms.damping is None else 0.5 * terms.damping.detach()
        if part.mass_factor is not None:
            k = factor_mass(part.mass_factor.detach(), part.d1.shape[-1], getattr(self.lagrangian, "eps", 0.0), scale=1.0 / h,
                            shift=shift)
        elif part.mass is not None:
            k = part.mass.detach() / h + (0.0 if shift is None else shift)
        else:
            return None
        batch, dim = part.d1.shape
        return spd_inverse(k).expand(batch, dim, dim)

    def step(self, state: DELState, u: Tensor | None = None, active: Tensor | None = None) -> tuple[DELState, DELInfo]:
        """Solve one forced DEL step under action ``u``; return the next state and the solver report.

        ``active`` (batch,) bool: rows set False take no Newton iteration (0 iterations); their next
        configuration is the predictor's guess, reported converged only if its residual is within tolerance.
        A rollout that discards everything after a row's first failed solve passes its surviving rows here,
        so that it stops paying for the failed ones (on the CPU, where an eager step stops once every row is
        frozen). The other rows are solved as without ``active``.
        """
        if active is not None and active.shape != state.q.shape[:1]:
            raise ValueError(f"active must have shape ({state.q.shape[0]},), got {tuple(active.shape)}")
        tol = default_tolerance(state.q.dtype) if self.tol is None else self.tol
        if self.rtol:
            scale = state.momentum if state.momentum is not None else (state.q - state.q_prev) / self.lagrangian.dt
            tol = tol + self.rtol * torch.linalg.vector_norm(scale.detach(), dim=-1)
        if self.explicit:  # one batched linear solve: nothing to save by skipping rows
            return self._explicit_step(state, u, tol)
        limits = None if active is None else torch.where(active.to(state.q.device), self.max_iter, 0)
        return self._implicit_step(state, u, tol, limits)

    # --------------------------------------------------------------------------------- explicit path
    def _explicit_step(self, state: DELState, u: Tensor | None, tol: float | Tensor) -> tuple[DELState, DELInfo]:
        lag: SeparableLagrangian = self.lagrangian  # type: ignore[assignment]
        h, q = lag.dt, state.q
        mass = lag.mass_matrix().to(q.dtype)
        k_next, k_prev = mass / h, mass / h
        drive = -h * lag.grad_potential(q)
        if self.force is not None:
            frc: DiscreteForcing = self.force  # type: ignore[assignment]
            damping = frc.dissipation_matrix()
            if damping is not None:
                k_next, k_prev = k_next + 0.5 * damping.to(q.dtype), k_prev - 0.5 * damping.to(q.dtype)
            actions = [a for a in (state.u_prev, u) if a is not None]
            if actions and frc.action_dim:
                drive = drive + 0.5 * h * sum(actions) @ frc.input_matrix().to(q.dtype).mT
        elif u is not None:
            raise ValueError("actions were given but there is no force to apply them: pass force=...")
        rhs = (q - state.q_prev) @ k_prev + drive
        q_next = q + torch.linalg.solve(k_next, rhs.mT).mT
        residual = torch.linalg.vector_norm(rhs - (q_next - q) @ k_next, dim=-1).detach()
        ones = torch.ones(q.shape[0], dtype=torch.long, device=q.device)
        return DELState(q, q_next, u), DELInfo(ones, residual, residual <= tol)

    # --------------------------------------------------------------------------------- implicit path
    def _predict(self, state: DELState, u: Tensor | None) -> Tensor:
        """Explicit predictor: constant displacement, then one linearized step with the last inverse Newton matrix."""
        x_lin = 2.0 * state.q - state.q_prev
        if state.newton_inverse is None:
            return x_lin
        terms = self._forcing(state.q_prev, state.q, u)
        r_hat = state.momentum + state.d1 + (0.0 if terms is None else terms.minus)
        x0 = x_lin + batched_matvec(state.newton_inverse, r_hat)
        return torch.where(torch.isfinite(x0).all(-1, keepdim=True), x0, x_lin)

    def _evaluator(self, q: Tensor, p: Tensor, u: Tensor | None, jacobian: Literal["none", "exact", "differences"]):
        """``evaluate(x, rows) -> (r, (p_next, d1[, J]))`` for the solver, with the context (q, p, u) of the rows
        ``rows`` of the batch (None: all)."""
        def evaluate(x: Tensor, rows: Tensor | None):
            qi, pi, ui = (q, p, u) if rows is None else (q[rows], p[rows], None if u is None else u[rows])
            if jacobian == "exact":
                (r, p_next, d1), jac = value_and_batch_jacobian(lambda y: self._residual_and_momentum(qi, pi, ui, y), x)
                return r, (p_next, d1, jac)
            r, p_next, d1 = self._residual_and_momentum(qi, pi, ui, x)
            if jacobian == "differences":
                rep = lambda t, n: None if t is None else t.repeat(n, *([1] * (t.dim() - 1)))  # noqa: E731
                jac = forward_difference_jacobian(lambda y, n: self._residual_and_momentum(rep(qi, n), rep(pi, n), rep(ui, n), y)[0], x, r)
                return r, (p_next, d1, jac)
            return r, (p_next, d1)
        return evaluate

    def _rescue(self, result: NewtonResult, starts: tuple[Tensor, ...], q: Tensor, p: Tensor, u: Tensor | None,
                tol: float | Tensor, limits: Tensor | None) -> NewtonResult:
        """Rows the quasi-Newton iteration left unconverged get Newton with the full Jacobian (by forward
        differences, one batched residual evaluation per iteration), from each of ``starts`` in turn while they
        still fail, ``max_iter`` iterations from each; a row keeps its smallest residual. Where the learned mass
        is nearly singular and the latent velocity large, the chord matrix M/h + R/2 misses the Jacobian's
        velocity terms and the quasi-Newton iteration stalls although a solution exists nearby. Rows whose
        ``limits`` are 0 (not to be solved) are left alone. Which rows are retried, and how, follows from each
        row's own solve, never from the rest of the batch; results agree across batchings to round-off."""
        solved = result._replace(inverse=None)  # the rows' fields; a retry has no inverse matrix either
        evaluate = self._evaluator(q, p, u, "differences")
        for start in starts:
            failed = ~solved.converged if limits is None else ~solved.converged & (limits > 0)
            rows = failed.nonzero().squeeze(-1)
            if rows.numel() == 0:
                break
            tol_rows = tol[rows] if isinstance(tol, Tensor) and tol.dim() else tol
            retry = damped_newton(lambda y, index: evaluate(y, rows if index is None else rows[index]), start[rows],
                                  tol=tol_rows, max_iter=self.max_iter, fallback=q[rows], early_exit=True)
            retry = retry._replace(payload=retry.payload[:len(solved.payload)])  # without the Jacobian it carried
            better = retry.residual_norm < solved.residual_norm[rows]
            iterations = solved.iterations.index_add(0, rows, retry.iterations)  # iterations add up, kept or not
            solved = put_rows(solved, rows[better], take_rows(retry, better))._replace(iterations=iterations)
        return solved._replace(inverse=result.inverse)

    def _solve(self, q_prev: Tensor, q: Tensor, p: Tensor, d1: Tensor | None, inverse: Tensor | None,
               predictor_error: Tensor | None, u: Tensor | None, tol: float | Tensor, limits: Tensor | None,
               max_iter: int) -> tuple[Tensor, Tensor, NewtonResult]:
        """The static solve of one step from detached inputs: the predictor, then quasi-Newton from it (or Newton
        with the exact Jacobian without structure). Returns the prediction, the start point (the prediction plus
        the last predictor error) and the solver's result."""
        exact = inverse is None
        prediction = self._predict(DELState(q_prev, q, None, p, d1, inverse), u)
        x0 = prediction if predictor_error is None else prediction + predictor_error
        initial = None
        if not exact:
            r0, p_next0, part0, terms0 = self._residual_parts(q, p, u, x0)
            fresh = self._newton_inverse(part0, terms0)
            usable = torch.isfinite(r0.sum(-1) + fresh.sum((-2, -1)))  # a NaN or inf anywhere makes the sum non-finite
            inverse = torch.where(usable[:, None, None], fresh, inverse)
            initial = (r0, (p_next0, part0.d1))
        early_exit = q.device.type == "cpu" and not torch.compiler.is_compiling()
        result = damped_newton(self._evaluator(q, p, u, "exact" if exact else "none"), x0, tol=tol, max_iter=max_iter,
                               inverse=inverse, initial=initial, fallback=q, limits=limits, early_exit=early_exit)
        return prediction, x0, result

    def _implicit_step(self, state: DELState, u: Tensor | None, tol: float | Tensor,
                       limits: Tensor | None = None) -> tuple[DELState, DELInfo]:
        q, p = state.q, state.momentum
        q_c, p_c = q.detach(), p.detach()
        u_c = None if u is None else u.detach()
        with torch.no_grad():  # on CUDA the solve replays a captured graph, also inside a training step
            prediction, x0, result = self._graphed_solve(state.q_prev.detach(), q_c, p_c, _detach(state.d1), state.newton_inverse,
                                                         state.predictor_error, u_c, tol, limits, self.max_iter)
            if self.rescue and state.newton_inverse is not None and not _tracing():
                starts = (x0, result.x, 2.0 * q_c - state.q_prev.detach(), q_c)  # prediction, best iterate, constant velocity, rest
                result = self._rescue(result, starts, q_c, p_c, u_c, tol, limits)
        info = DELInfo(result.iterations, result.residual_norm, result.converged)
        x_star, inverse = result.x, result.inverse
        error = torch.where(result.converged.unsqueeze(-1), x_star - prediction, torch.zeros_like(x_star))
        if torch.is_grad_enabled():
            with torch.enable_grad():
                r_graph = self._residual_parts(q, p, u, x_star)[0]
            if r_graph.requires_grad:
                jacobian_fn = lambda: value_and_batch_jacobian(lambda y: self._residual_and_momentum(q_c, p_c, u_c, y), x_star)[1]  # noqa: E731
                q_next = _ImplicitSolution.apply(x_star, r_graph, jacobian_fn)
                _, p_next, part, _ = self._residual_parts(q, p, u, q_next)
                return DELState(q, q_next, u, p_next, part.d1, inverse, error), info
        return DELState(q, x_star, u, result.payload[0], result.payload[1], inverse, error), info


def _tracing() -> bool:
    """True while the step is traced (torch.compile) or captured into a CUDA graph: the rescue, which reads the
    verdicts on the host, is left to the caller then (``WorldModel`` repairs the rows after a replay)."""
    return torch.compiler.is_compiling() or (torch.cuda.is_available() and torch.cuda.is_current_stream_capturing())


def _detach(x: Tensor | None) -> Tensor | None:
    return None if x is None else x.detach()


def solve_del(
    lagrangian: DiscreteLagrangian | Callable[[Tensor, Tensor], Tensor],
    q_prev: Tensor,
    q_curr: Tensor,
    force: Forcing | ForceFn | None = None,
    u_prev: Tensor | None = None,
    u_curr: Tensor | None = None,
    *,
    tol: float | None = None,
    max_iter: int = 20,
    jacobian: JacobianMode = "structured",
    method: Method = "auto",
    rtol: float = 0.0,
    rescue: bool = True,
) -> tuple[Tensor, DELInfo]:
    """Solve the forced DEL equation for q_{k+1} given q_{k-1} = ``q_prev``, q_k = ``q_curr``.

    Shapes: configurations (batch, dim) or (dim,); actions (batch, action_dim) or (action_dim,). ``u_prev``
    is the action applied between q_{k-1} and q_k (None: zero), ``u_curr`` the one applied from q_k.
    ``tol`` bounds ‖r‖₂ (default 1e-10 in float64, 1e-5 otherwise), plus ``rtol``·‖p_k‖ when ``rtol`` > 0. ``jacobian="exact"`` uses the exact
    Jacobian instead of the structured -(M/h + R/2); ``method="newton"`` sends separable Lagrangians
    through Newton too. ``rescue`` finishes rows the quasi-Newton iteration left unconverged with the full
    Jacobian (``DELStepper``). Differentiable (implicit function theorem) w.r.t. inputs, actions and parameters.
    Returns ``(q_next, info)``; non-converged samples hold their best iterate and ``info.converged`` False.
    """
    stepper = DELStepper(lagrangian, force, tol=tol, max_iter=max_iter, jacobian=jacobian, method=method, rtol=rtol, rescue=rescue)
    unbatched = check_configurations(("q_prev", q_prev), ("q_curr", q_curr))
    if unbatched:
        q_prev, q_curr = q_prev.unsqueeze(0), q_curr.unsqueeze(0)
        u_prev = None if u_prev is None else u_prev.unsqueeze(0)
        u_curr = None if u_curr is None else u_curr.unsqueeze(0)
    u_prev = check_actions("u_prev", u_prev, q_curr.shape[:-1], q_curr)
    u_curr = check_actions("u_curr", u_curr, q_curr.shape[:-1], q_curr)
    if u_prev is None and u_curr is not None and stepper.force is not None:
        u_prev = torch.zeros_like(u_curr)
    state, info = stepper.step(stepper.start(q_prev, q_curr, u_prev), u_curr)
    if unbatched:
        return state.q.squeeze(0), DELInfo(*(t.squeeze(0) for t in info))
    return state.q, info
