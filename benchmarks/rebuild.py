"""Rebuild everything derived from the bundled generator, in dependency order: the shipped direction sets, the
inversion encoder, the control models, the docs figures and the results/ files (`make artefacts`).

    make artefacts                                    # all steps (hours on 2 cores: --list gives each one's cost)
    python benchmarks/rebuild.py --list               # the plan: steps in order, what each needs, its command
    python benchmarks/rebuild.py --only directions,semantics
    python benchmarks/rebuild.py --from inversion     # go on from a step (after a stop or a failure)
    python benchmarks/rebuild.py --subset --root /tmp/rebuild --only directions,layer-gradient
                                                      # tiny counts, every output under --root (the test runs this)

Run it after replacing the bundled synthfaces64 weights. Each step is its own process (the same command a person
would type, printed before it runs). A failing step stops the rebuild; what the steps before it wrote stays, and
`--from` goes on from it. The manifest (results/rebuild.json; ROOT/rebuild.json with --root) records, for every
step that ran: its exact command, exit status and wall time, the SHA-256 of each file it wrote or rewrote, and the
run's commit, machine and generator hash; each results/ file carries its own provenance too (harness.write_result).

--subset runs the steps that have a small form (fewer samples, shorter training) and writes their outputs under
--root instead of the repository, so it can check the pipeline without touching the shipped files; later steps
then still read the package's own assets. Steps without a small form are skipped there, and say so.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import ROOT, provenance

BENCH = ROOT / "benchmarks"
ASSETS = ROOT / "src" / "ganlens" / "assets"
MODEL = "synthfaces64"


@dataclass(frozen=True)
class Step:
    """One rebuild step: a command (argument templates) and what it needs to have run before it.

    Templates may use {results}, {docs}, {assets}, {runs}: the repository's folders, or --root's in a subset run.
    `install` copies files the command wrote (e.g. a trained encoder) to where the package reads them.
    """

    name: str
    what: str
    cost: str
    args: tuple[str, ...]
    subset: tuple[str, ...] | None = None  # the small form's arguments; None: no small form
    needs: tuple[str, ...] = ()
    install: dict[str, str] = field(default_factory=dict)


def _script(name: str, *args: str) -> tuple[str, ...]:
    return (str(BENCH / f"{name}.py"), *args)


def _cli(*args: str) -> tuple[str, ...]:
    return ("-m", "ganlens", *args)


STEPS: tuple[Step, ...] = (
    Step("directions", "InterFaceGAN boundaries in W for all 13 attributes (the default shipped set)", "~30 min",
         _script("bundle_directions", "--kind", "svm", "--n", "100000", "--out", f"{{assets}}/directions/{MODEL}"),
         _script("bundle_directions", "--kind", "svm", "--n", "600", "--out", f"{{assets}}/directions/{MODEL}")),
    Step("layer-gradient", "per attribute, the layer range its gradient direction edits best", "~15 min",
         _script("layer_gradient", "--out", "{results}/layer_gradient.json"),
         _script("layer_gradient", "--fit", "16", "--select", "8", "--samples", "16",
                 "--out", "{results}/layer_gradient.json")),
    Step("directions-gradient", "layer-wise gradient directions (the shipped 'gradient' set)", "~10 min",
         _script("bundle_directions", "--kind", "gradient", "--ranges", "{results}/layer_gradient.json",
                 "--out", f"{{assets}}/directions/{MODEL}/gradient"),
         needs=("layer-gradient",)),
    Step("encoder", "the pSp/ReStyle inversion encoder, trained afresh and installed", "~75 min",
         _cli("train", "encoder", "--model", MODEL, "--minutes", "72", "--pool", "4000", "--threads", "2",
              "--out", "{runs}/rebuild-encoder"),
         _cli("train", "encoder", "--model", MODEL, "--minutes", "0.3", "--pool", "64", "--batch", "16",
              "--image-batch", "4", "--threads", "2", "--out", "{runs}/rebuild-encoder"),
         install={"{runs}/rebuild-encoder/encoder.safetensors": f"{{assets}}/{MODEL}-encoder.safetensors",
                  "{runs}/rebuild-encoder/encoder.json": f"{{assets}}/{MODEL}-encoder.json"}),
    Step("control", "control encoders and boundary calibration (installed), results/control.json", "~30 min",
         _script("control", "--ship", "{assets}", "--out", "{results}/control.json", "--figures", "{docs}"),
         _script("control", "--quick", "--ship", "{assets}", "--out", "{results}/control.json",
                 "--figures", "{docs}"),
         needs=("directions",)),
    Step("semantics", "the seeds' claims: separability, edits, conditional edits, hierarchy, SeFa/GANSpace",
         "~50 min", _script("semantics", "--out", "{results}/semantics.json", "--docs", "{docs}"),
         _script("semantics", "--quick", "--out", "{results}/semantics.json", "--docs", "{docs}"),
         needs=("directions",)),
    Step("linear-ceiling", "how linear each attribute is in W at all", "~10 min",
         _script("linear_ceiling", "--out", "{results}/linear_ceiling.json",
                 "--chart", "{docs}/semantics_linear_ceiling.png")),
    Step("direction-recipes", "boundary recipes compared", "~30 min",
         _script("direction_recipes", "--out", "{results}/direction_recipes.json")),
    Step("conditional-ascent", "conditional score ascent", "~15 min",
         _script("conditional_ascent", "--out", "{results}/conditional_ascent.json"), needs=("directions",)),
    Step("guarded-ascent", "guarded ascent in W+ and Z", "~30 min",
         _script("guarded_ascent", "--out", "{results}/guarded_ascent.json"), needs=("directions",)),
    Step("conditional-ascent-half-step", "conditional score ascent at step 0.5", "~15 min",
         _script("conditional_ascent", "--step", "0.5", "--out", "{results}/conditional_ascent_step0.5.json"),
         needs=("directions",)),
    Step("guarded-ascent-z", "guarded ascent in Z", "~15 min",
         _script("guarded_ascent", "--spaces", "z", "--out", "{results}/guarded_ascent_z.json"),
         needs=("directions",)),
    Step("stylespace", "StyleSpace channels against W boundaries", "~15 min",
         _script("stylespace", "--out", "{results}/stylespace.json", "--figures", "{docs}"), needs=("directions",)),
    Step("disentanglement", "MIG / DCI / modularity of every direction method", "~20 min",
         _script("disentanglement", "--out", "{results}/disentanglement.json",
                 "--figure", "{docs}/disentanglement.png"), needs=("directions", "directions-gradient", "encoder")),
    Step("inversion", "inversion methods, PTI, editability after inversion", "~90 min",
         _script("inversion", "--out", "{results}/inversion.json"), needs=("encoder", "directions")),
    Step("invert-speed", "inversion throughput", "~5 min",
         _script("invert_speed", "--out", "{results}/invert_speed-cpu.json"), needs=("encoder",)),
    Step("restoration", "restoration with the GAN prior against classical baselines", "~2 h",
         _script("restoration", "--out", "{results}/restoration.json", "--figure", "{docs}/restoration.png"),
         needs=("encoder",)),
    Step("artefacts", "InterFaceGAN artefact correction", "~20 min",
         _script("artefacts", "--out", "{results}/artefacts.json"), needs=("directions",)),
    Step("restore-drift", "attribute drift of restore", "~5 min",
         _script("restore_drift", "--out", "{results}/restore_drift.json"), needs=("directions",)),
    Step("scorer-crosscheck", "edits read by a second predictor", "~15 min",
         _script("scorer_crosscheck", "--out", "{results}/scorer_crosscheck.json"), needs=("directions",)),
    Step("predictor-shortcuts", "does the predictor read the factors or their correlates", "~5 min",
         _script("predictor_shortcuts", "--out", "{results}/predictor_shortcuts.json")),
    Step("model-quality", "FID, domain distance, coverage, speed, visible edits of the bundled model", "~50 min",
         _script("model_quality", "--model", MODEL, "--n", "5000", "--out", "{results}/model_quality.json",
                 "--grid", "{docs}/synthfaces64_samples.png")),
    Step("web-latency", "web UI latency", "~5 min", _script("web_latency", "--out", "{results}/web_latency.json")),
    Step("web-load", "web UI under 10/50/200 clients", "~15 min",
         _script("web_load", "--out", "{results}/web_load.json")),
)
BY_NAME = {s.name: s for s in STEPS}


def folders(root: Path | None) -> dict[str, str]:
    """The template folders: the repository's, or all under `root` (a subset run)."""
    if root is None:
        return {"results": str(ROOT / "results"), "docs": str(ROOT / "docs"), "assets": str(ASSETS),
                "runs": str(ROOT / "runs")}
    return {k: str(root / k) for k in ("results", "docs", "assets", "runs")}


def command(step: Step, where: dict[str, str], subset: bool) -> list[str] | None:
    """The step's full command line (None: it has no small form and this is a subset run)."""
    args = step.subset if subset else step.args
    return None if args is None else [sys.executable, *(a.format(**where) for a in args)]


def select(only: str | None, start: str | None) -> list[Step]:
    """The steps to run, in plan order. Raises SystemExit naming an unknown step."""
    names = [s.name for s in STEPS]
    wanted = [n.strip() for n in only.split(",") if n.strip()] if only else names
    for n in wanted + ([start] if start else []):
        if n not in BY_NAME:
            raise SystemExit(f"error: no rebuild step named {n!r}; the steps are: {', '.join(names)}")
    chosen = [s for s in STEPS if s.name in wanted]
    if start:
        chosen = [s for s in chosen if names.index(s.name) >= names.index(start)]
    return chosen


def _digest(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def snapshot(where: dict[str, str]) -> dict[Path, tuple[int, int]]:
    """(mtime in ns, size) of every file under the output folders (runs/ aside)."""
    out = {}
    for key in ("results", "docs", "assets"):
        base = Path(where[key])
        if base.exists():
            for p in base.rglob("*"):
                if p.is_file():
                    st = p.stat()
                    out[p] = (st.st_mtime_ns, st.st_size)
    return out


def written(before: dict[Path, tuple[int, int]], after: dict[Path, tuple[int, int]]) -> dict[str, str]:
    """SHA-256 of each file that is new in `after` or changed since `before` (paths relative to the repository)."""
    changed = sorted(p for p, stamp in after.items() if before.get(p) != stamp)
    return {str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p): _digest(p) for p in changed}


def install(step: Step, where: dict[str, str]) -> None:
    """Copy what the step trained to where the package reads it (atomically: a reader never sees half a file)."""
    for src, dst in step.install.items():
        src_p, dst_p = Path(src.format(**where)), Path(dst.format(**where))
        if not src_p.exists():
            raise SystemExit(f"error: step {step.name!r} finished but did not write {src_p}")
        dst_p.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst_p.with_name(dst_p.name + ".tmp")
        shutil.copyfile(src_p, tmp)
        os.replace(tmp, dst_p)
        print(f"installed {dst_p}")


def write_manifest(path: Path, manifest: dict) -> None:
    from ganlens.io import atomic_write_json

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, manifest)


def run(steps: list[Step], where: dict[str, str], subset: bool, manifest_path: Path) -> int:
    """Run `steps` in order, recording each in the manifest as it ends; returns the exit status (0: all ran)."""
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"steps": {}}
    manifest.update(provenance([MODEL]), subset=subset)
    for i, step in enumerate(steps, 1):
        cmd = command(step, where, subset)
        if cmd is None:
            print(f"[{i}/{len(steps)}] {step.name}: skipped (no small form for --subset)", flush=True)
            manifest["steps"][step.name] = {"skipped": "no small form for --subset"}
            continue
        print(f"[{i}/{len(steps)}] {step.name}: {step.what}\n  $ {' '.join(cmd)}", flush=True)
        before, t0 = snapshot(where), time.perf_counter()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                                        os.environ.get("PYTHONPATH")]))}
        status = subprocess.run(cmd, cwd=ROOT, env=env).returncode
        if status == 0 and step.install:
            install(step, where)
        manifest["steps"][step.name] = {"command": cmd, "status": status,
                                        "wall_s": round(time.perf_counter() - t0, 1),
                                        "written": written(before, snapshot(where))}
        write_manifest(manifest_path, manifest)
        if status != 0:
            print(f"error: step {step.name!r} failed (exit status {status}); what earlier steps wrote stays. "
                  f"Go on with: python benchmarks/rebuild.py --from {step.name}", file=sys.stderr)
            return status
    write_manifest(manifest_path, manifest)
    print(f"manifest: {manifest_path}")
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", action="store_true", help="print the plan and exit")
    ap.add_argument("--only", help="comma list of steps to run (in plan order)")
    ap.add_argument("--from", dest="start", help="skip the steps before this one")
    ap.add_argument("--subset", action="store_true", help="small counts; outputs under --root (required with it)")
    ap.add_argument("--root", type=Path, help="write every output under this folder instead of the repository")
    args = ap.parse_args()
    if args.subset and args.root is None:
        raise SystemExit("error: --subset writes outside the repository: give it a folder with --root")
    steps = select(args.only, args.start)
    root = args.root.resolve() if args.root else None
    where = folders(root)
    if args.list:
        for s in steps:
            cmd = command(s, where, args.subset)
            needs = f" (after {', '.join(s.needs)})" if s.needs else ""
            print(f"{s.name} [{s.cost}]{needs}: {s.what}\n  $ {' '.join(cmd) if cmd else '(no small form)'}")
        return
    missing = {n for s in steps for n in s.needs} - {s.name for s in steps}
    if missing and args.only:
        print(f"note: these steps read what {', '.join(sorted(missing))} wrote earlier (not rebuilt in this run)")
    manifest = (root / "rebuild.json") if root else ROOT / "results" / "rebuild.json"
    raise SystemExit(run(steps, where, args.subset, manifest))


if __name__ == "__main__":
    main()
