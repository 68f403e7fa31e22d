"""Change the campaign's recipe by forks: the same trained state continued under different options, equal wall clock.

    python benchmarks/recipe_forks.py run --minutes 55                # every fork at once, from runs/campaign/state
    python benchmarks/recipe_forks.py evaluate --n 5000    # -> results/recipe_forks.json, docs/recipe_forks.png

The issue's rule: when the campaign's curve flattens above a bar for two stints, change the recipe and say why.
Probes from scratch (benchmarks/recipe_probes.py) cannot judge what only shows after millions of images (here: a
rare mode the generator never learnt), so each fork starts from the campaign's state and changes one option;
`control` continues the recipe unchanged beside them, so what training alone does in the same time is measured
too. All forks start at the same moment with one thread each and stop themselves after --minutes (on 2 cores,
three forks share them evenly). `benchmarks/campaign.py adopt runs/fork-NAME` continues the campaign from a
fork. `evaluate` reads the start and every fork's last snapshot with the domain
yardsticks of benchmarks/model_quality.py (predictor-feature FD, precision / recall, every factor's coverage and the
data's correlations) and the visible-edit share of glasses and smile, and draws their samples side by side with
each one's shortest-hair tail (docs/recipe_forks.png).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from harness import ROOT, write_result
from recipe_probes import snapshot_kimg, start_together

CAMPAIGN = ROOT / "runs" / "campaign"
# One change each against the campaign's recipe (campaign/synthfaces64-v2/recipe.json), the rest unchanged.
FORKS = {
    "control": [],
    # R1 at a quarter: a discriminator less smoothed around the data can see a few-pixel difference (hair sides
    # ending above the ears) that the generator is not yet paying for; lower gamma trades stability for recall.
    "r1-quarter": ["--gamma", "0.0064"],
    # No path-length regularisation: it asks every direction in W to move the image equally fast, which resists a
    # mode reached only by a sharp change; StyleGAN2-ADA turns it off at low resolution (its CIFAR-10 setting).
    "no-pl": ["--pl-weight", "0"],
    # A wider D at 64 and 32 px (64 and 128 channels instead of 32 and 64), grown from the trained one: D does not
    # ship, so its width costs training time only; a few-pixel mode needs a D that can see it. (Round 2 swapped in
    # a fresh wide D instead, which sat at chance: see docs/results.md.)
    "d-wide": ["--d-cbase", "4096", "--widen-d"],
}


def recipe_options() -> list[str]:
    return json.loads((ROOT / "campaign" / "synthfaces64-v2" / "recipe.json").read_text())["options"]


def with_overrides(options: list[str], overrides: list[str]) -> list[str]:
    """`options` with each `--flag value` of `overrides` replacing the same flag's value (or appended); a bare
    `--flag` (no value after it) is appended once."""
    out, i = list(options), 0
    while i < len(overrides):
        flag = overrides[i]
        value = overrides[i + 1] if i + 1 < len(overrides) and not overrides[i + 1].startswith("--") else None
        if value is None:
            out += [] if flag in out else [flag]
        elif flag in out:
            out[out.index(flag) + 1] = value
        else:
            out += [flag, value]
        i += 1 if value is None else 2
    return out


def run(args: argparse.Namespace) -> None:
    source = Path(args.source).resolve() / "state"
    if not source.exists():
        sys.exit(f"no training state in {source}: run `benchmarks/campaign.py start` (and stop it) first")
    start_kimg = json.loads((source.parent / "log.jsonl").read_text().splitlines()[-1])["kimg"]
    runs = []
    for name in args.forks.split(","):
        out = Path(args.runs) / f"fork-{name}"
        if out.exists():
            sys.exit(f"{out} exists: remove it or name other forks (a fork must start from the campaign's state)")
        shutil.copytree(source, out / "state")
        options = with_overrides(recipe_options(), FORKS[name] + ["--threads", "1", "--snap", str(args.snap)])
        cmd = [sys.executable, "-m", "ganlens", "train", "gan", "--data", args.data, "--out", str(out),
               "--max-minutes", str(args.minutes), *options]  # the recipe's model name: a fork may be adopted
        (out / "start.json").write_text(json.dumps({"kimg": start_kimg, "source": str(source)}) + "\n")
        print(name, " ".join(FORKS[name]) or "(the recipe unchanged)", flush=True)
        runs.append((name, out, cmd))
    start_together(runs)


def hair_tail(fake: np.ndarray, scores: dict, k: int = 8) -> np.ndarray:
    """The k samples the predictor reads as shortest-haired: where the missing mode should appear."""
    return fake[np.argsort(scores["hair_length"])[:k]]


def evaluate(args: argparse.Namespace) -> None:
    import ganlens
    from ganlens.io import make_grid, save_image
    from ganlens.scorers import load_scorer
    from ganlens.synthdata import render_batch, sample_factors
    from model_quality import coverage_part, domain_part, edits_part

    scorer = load_scorer("synthfaces64")
    factors = sample_factors(args.n, 777)
    real = render_batch(factors, size=64)
    other = render_batch(sample_factors(args.n, 778), size=64)
    out_path = Path(args.out)
    results = {"n": args.n, "data_seed": 777, "forks": {k: " ".join(v) or "recipe unchanged" for k, v in FORKS.items()},
               "rows": {}}
    names = args.forks.split(",")
    begun = json.loads((Path(args.runs) / f"fork-{names[0]}" / "start.json").read_text())
    start_snap = sorted(Path(begun["source"]).parent.glob(f"snapshot-{begun['kimg']:09.2f}kimg.safetensors"))
    models = ([("start", start_snap[0])] if start_snap else []) + [
        (name, sorted((Path(args.runs) / f"fork-{name}").glob("snapshot-*.safetensors"), key=snapshot_kimg)[-1])
        for name in names]
    columns, used = [], []
    for name, snap in models:
        G = ganlens.load(str(snap))
        where = snap.resolve()
        row = {"snapshot": str(where.relative_to(ROOT) if where.is_relative_to(ROOT) else where),
               "kimg": snapshot_kimg(snap),
               "options": results["forks"].get(name, "the state every fork starts from")}
        fake = G.render(G.sample(args.n, seed=0), batch_size=250, precision="bf16")
        domain_part(fake, real, other, row)
        coverage_part(G, fake, real, factors, row)
        edits_part(G, row, attributes=("glasses", "smile"), test_samples=args.edit_n)
        results["rows"][name] = row
        used.append(snap)
        cov = row["coverage"]
        print(name, row["kimg"], {"fd": round(row["domain"]["predictor_fd"], 3), "recall": row["domain"]["recall"],
                                  "hair_w1": round(cov["hair_length"]["wasserstein_over_range"], 4),
                                  "glasses_pts": round(cov["glasses"]["abs_diff_points"], 2),
                                  "corr": [round(p["abs_diff"], 3) for p in row["correlations"]]}, flush=True)
        columns.append(np.concatenate([make_grid(fake[:16], ncols=4, pad=2),
                                       make_grid(hair_tail(fake, scorer(fake[:2000])), ncols=4, pad=2)], axis=0))
        write_result(out_path, results, generators=used, parts=[name])
    save_image(make_grid(np.stack(columns), ncols=len(columns), pad=8), args.picture, scale=2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--source", default=str(CAMPAIGN), help="the run whose state every fork starts from")
    r.add_argument("--data", default=str(ROOT / "data" / "sf100k.npz"))
    r.add_argument("--runs", default=str(ROOT / "runs"))
    r.add_argument("--minutes", type=float, default=55)
    r.add_argument("--snap", type=float, default=20)
    r.add_argument("--forks", default=",".join(FORKS))
    e = sub.add_parser("evaluate")
    e.add_argument("--runs", default=str(ROOT / "runs"))
    e.add_argument("--forks", default=",".join(FORKS))
    e.add_argument("--n", type=int, default=5000, help="samples for the distances and coverage")
    e.add_argument("--edit-n", type=int, default=300, help="fresh samples per visible-edit share")
    e.add_argument("--out", default=str(ROOT / "results" / "recipe_forks.json"))
    e.add_argument("--picture", default=str(ROOT / "docs" / "recipe_forks.png"),
                   help="each model's first 16 samples over its 8 shortest-haired, side by side")
    args = ap.parse_args()
    if args.cmd == "run":
        run(args)
    else:
        evaluate(args)


if __name__ == "__main__":
    main()
