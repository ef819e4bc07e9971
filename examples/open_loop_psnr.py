"""Open-loop PSNR of trained world models on a held-out collection, side by side: over whole frames and over
the moving pixels (where the true frame differs from its window's temporal median), which a model drawing only
the background cannot score well on.

    python examples/open_loop_psnr.py --data data/cartpole-heldout \
        --runs runs/cartpole-lawm/checkpoint runs/cartpole-mlp/checkpoint --horizons 1 10 50
"""

from __future__ import annotations

import argparse

import torch

from lawm_env.evaluation.open_loop import OpenLoopPSNR, model_predictor, open_loop_quality, repeat_last_frame
from lawm_env.model.io import load_world_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="collection directory (held-out episodes)")
    parser.add_argument("--runs", nargs="+", required=True, help="checkpoint directories to compare")
    parser.add_argument("--horizons", nargs="+", type=int, default=[1, 10, 50])
    parser.add_argument("--windows", type=int, default=64)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    header = "predictor".ljust(48) + "".join(f"PSNR@{h}".rjust(10) for h in args.horizons)
    print(header + "".join(f"moving@{h}".rjust(10) for h in args.horizons))

    def row(name: str, scores: OpenLoopPSNR) -> None:
        print(name.ljust(48) + "".join(f"{scores.frame[h]:10.2f}" for h in args.horizons)
              + "".join(f"{scores.moving[h]:10.2f}" for h in args.horizons))

    horizons = tuple(args.horizons)
    for run in args.runs:
        model = load_world_model(run)
        device = next(model.parameters()).device
        row(f"{run} ({model.config.transition})", open_loop_quality(model_predictor(model), args.data, horizons, args.windows, device=device))
    row("repeat the last observed frame", open_loop_quality(repeat_last_frame, args.data, horizons, args.windows))


if __name__ == "__main__":
    main()
