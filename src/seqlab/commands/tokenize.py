"""``seqlab tokenize vqtoken-demo``: VQToken on a generated video-like token grid."""

from __future__ import annotations

import json

from seqlab.tokenize.vqtoken import VQToken, make_video_grid

NAME = "tokenize"
HELP = "tokenizer demos (vqtoken-demo: compress a generated video token grid with VQToken)"


def add_arguments(p):
    p.add_argument("demo", choices=["vqtoken-demo"], help="which demo to run")
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--height", type=int, default=24)
    p.add_argument("--width", type=int, default=24)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--objects", type=int, default=4)
    p.add_argument("--noise", type=float, default=0.1)
    p.add_argument("--tolerance", type=float, default=0.05, help="adaptive variant: max relative MSE")
    p.add_argument("--num-tokens", type=int, default=None, help="fixed-length variant: codebook size K")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args) -> int:
    grid, labels = make_video_grid(args.frames, args.height, args.width, args.dim, objects=args.objects,
                                   noise=args.noise, seed=args.seed)
    vqt = VQToken(num_tokens=args.num_tokens, tolerance=args.tolerance, seed=args.seed)
    code = vqt.encode(grid)
    rep = {"variant": vqt.variant, "grid": list(grid.shape), **vqt.report(grid, code),
           "generating_prototypes": int(labels.unique().numel())}
    if args.json:
        print(json.dumps(rep))
        return 0
    print(f"VQToken ({rep['variant']}) on a {args.frames}x{args.height}x{args.width}x{args.dim} token grid "
          f"({rep['generating_prototypes']} generating prototypes)")
    print(f"  tokens: {int(rep['original_tokens'])} -> {int(rep['tokens'])}  "
          f"(reduction ratio {100 * rep['reduction_ratio']:.3f}% of the original length)")
    print(f"  reconstruction from tokens + hash: MSE {rep['mse']:.5f}, "
          f"relative MSE {rep['relative_mse']:.4f}")
    print(f"  TokDense (explained variance per token): {rep['tokdense']:.4f}")
    return 0
