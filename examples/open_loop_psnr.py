"""Open-loop PSNR of trained world models on a held-out collection, side by side: over whole frames and over
the moving pixels (where the true frame differs from its window's temporal median), which a model drawing only
the background cannot score well on.

    python examples/open_loop_psnr.py --data data/cartpole-heldout \
        --runs runs/cartpole-lawm/checkpoint runs/cartpole-mlp/checkpoint --horizons 1 10 50
"""

from __future__ import annotations

import argparse

import torch

from lawm_env.evaluation.open_loop import open_loop_quality
from lawm_env.training.trainer import load_world_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="collection directory (held-out episodes)")
    parser.add_argument("--runs", nargs="+", required=True, help="checkpoint directories to compare")
    parser.add_argument("--horizons", nargs="+", type=int, default=[1, 10, 50])
    parser.add_argument("--windows", type=int, default=64)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    header = "model".ljust(48) + "".join(f"PSNR@{h}".rjust(10) for h in args.horizons)
    header += "".join(f"moving@{h}".rjust(10) for h in args.horizons)
    print(header)
    for run in args.runs:
        model = load_world_model(run)
        scores = open_loop_quality(model, args.data, tuple(args.horizons), windows=args.windows)
        name = f"{run} ({model.config.transition})"
        print(name.ljust(48) + "".join(f"{scores.frame[h]:10.2f}" for h in args.horizons)
              + "".join(f"{scores.moving[h]:10.2f}" for h in args.horizons))


if __name__ == "__main__":
    main()
