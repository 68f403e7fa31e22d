"""Train the bundled attribute predictor and record its held-out metrics.

Reproduces src/ganlens/assets/synthfaces64-predictor.{safetensors,json} and writes results/predictor.json:
    python benchmarks/train_predictor.py [--n 50000] [--epochs 6]
Training renders use seed 1, held-out renders seed 2 (the GAN's data used seed 0). A second, independent predictor
to cross-check edits (benchmarks/scorer_crosscheck.py) comes from other renders, width and initialisation:
    python benchmarks/train_predictor.py --n 50000 --epochs 12 --width 24 --data-seed 3 --seed 1 \
        --out results/check_predictor/synthfaces64-check --results results/check_predictor/metrics.json
A third, used only as a judge of edits held under the other two (benchmarks/guarded_ascent.py):
    python benchmarks/train_predictor.py --n 50000 --epochs 6 --width 32 --data-seed 5 --seed 2 \
        --out results/third_predictor/synthfaces64-third --results results/third_predictor/metrics.json
The bundled "synthfaces64-independent" predictor was trained on renders whose factors are drawn independently
(no glasses|age, smile|age, beard|hair_length correlation), so it cannot read one factor as a cue for another (benchmarks/predictor_shortcuts.py):
    python benchmarks/train_predictor.py --n 50000 --epochs 6 --width 32 --data-seed 7 --seed 3 --independent \
        --out src/ganlens/assets/synthfaces64-independent-predictor \
        --results results/independent_predictor/metrics.json
and a second one to judge edits guarded by the first (benchmarks/guarded_ascent.py):
    python benchmarks/train_predictor.py --n 50000 --epochs 6 --width 32 --data-seed 9 --seed 4 --independent \\
        --out results/independent_predictor_2/synthfaces64-independent-2 \\
        --results results/independent_predictor_2/metrics.json
"""

from __future__ import annotations

import argparse
import datetime
import tempfile
from pathlib import Path

import torch

from ganlens.bundled import PREDICTORS
from ganlens.scorers.predictor import save_predictor
from ganlens.synthdata import build_dataset, load_dataset
from ganlens.training.predictor import train_predictor
from harness import ROOT, write_result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--val-n", type=int, default=5000)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--data-seed", type=int, default=1, help="seed of the training renders (held-out: this + 1)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the initialisation and batch order")
    ap.add_argument("--independent", action="store_true", help="draw the factors without their correlations")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=str(PREDICTORS["synthfaces64"]))
    ap.add_argument("--results", default=str(ROOT / "results" / "predictor.json"))
    args = ap.parse_args()
    if args.device == "cpu":
        torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        train = load_dataset(build_dataset(args.n, args.data_seed, Path(tmp) / "train.npz",
                                           independent=args.independent))
        val = load_dataset(build_dataset(args.val_n, args.data_seed + 1, Path(tmp) / "val.npz",
                                         independent=args.independent))
    scorer, metrics = train_predictor(train, val, epochs=args.epochs, width=args.width, seed=args.seed,
                                      device=args.device)
    metrics["date"] = datetime.date.today().isoformat()
    metrics["device"] = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"cpu ({args.device})"
    metrics["command"] = (f"python benchmarks/train_predictor.py --n {args.n} --epochs {args.epochs} "
                          f"--width {args.width} --data-seed {args.data_seed} --seed {args.seed} "
                          f"--device {args.device}" + (" --independent" if args.independent else ""))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_predictor(scorer.model, scorer.attributes, metrics, args.out)
    write_result(args.results, metrics)
    for k, v in metrics["held_out"].items():
        print(f"{k:12s} {v}")
    print({k: v for k, v in metrics.items() if k not in ("held_out", "provenance")})


if __name__ == "__main__":
    main()
