"""`ganlens demo`: the whole pipeline on a bundled model, written as one HTML report.

Samples, the attribute predictors' accuracy, InterFaceGAN boundaries, edit grids (unconditional vs conditional),
the shipped gradient directions with their edit success, conditional editing per sample, the layer heat-map,
SeFa / GANSpace directions with auto-labels, inversion of held-out renders and of a real photo, inpainting, morph and edit animations, and a
crossover grid. Every number is measured in this run, and each section names the command that reproduces it.
`quick=True` (the default) shrinks every sample count (about a minute on two CPU cores) and uses the model's shipped boundaries
instead of fitting new ones.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from ..bundled import predictor_name
from ..errors import GanlensError
from ..models import load
from ..scorers import load_scorer
from .context import DemoContext, DemoSizes
from .html import Report
from .sections.analysis import section_discovery, section_layers
from .sections.basics import section_predictors, section_samples
from .sections.editing import section_ascent, section_boundaries, section_conditional, section_edits, section_gradient
from .sections.inversion import section_inpaint, section_inversion
from .sections.operations import section_animations, section_mixing

SECTIONS: tuple[tuple[str, str, Callable], ...] = (
    ("samples", "Samples", section_samples),
    ("predictors", "Attribute predictors", section_predictors),
    ("boundaries", "InterFaceGAN boundaries", section_boundaries),
    ("edits", "Edits along the boundaries", section_edits),
    ("gradient", "Edits along the shipped gradient directions", section_gradient),
    ("conditional", "Conditional manipulation", section_conditional),
    ("ascent", "Conditional manipulation per sample", section_ascent),
    ("layers", "Which layers control what", section_layers),
    ("discovery", "Unsupervised directions: SeFa and GANSpace", section_discovery),
    ("inversion", "Inversion", section_inversion),
    ("inpaint", "Inpainting", section_inpaint),
    ("animations", "Morph and edit animations", section_animations),
    ("mixing", "Crossover (style mixing)", section_mixing),
)


def run_demo(out: str | Path, model: str = "synthfaces64", quick: bool = True,
             log: Callable[[str], None] = print, progress: bool = True) -> Path:
    """Run every section on `model` and write `out/index.html`; returns its path (`quick=False`: the full run).

    A section that fails is reported in the page (with its error) and the rest still run.

    Raises:
        GanlensError: the model has no bundled scorer.
    """
    torch.manual_seed(0)
    t_start = time.perf_counter()
    reader = predictor_name(model)
    if reader is None:
        raise GanlensError(f"the demo needs a model that ships an attribute predictor, and {model!r} ships none; "
                           "try the default, synthfaces64")
    G = load(model)
    ctx = DemoContext(G, load_scorer(reader), DemoSizes.quick() if quick else DemoSizes.full(), quick, model, log)
    report = Report(out, f"ganlens demo — {model}",
                    f"Everything below was computed by `ganlens demo{ctx.flag()}` on this machine "
                    f"({torch.get_num_threads()} torch threads, torch {torch.__version__}).")
    failed = []
    bar = tqdm(SECTIONS, desc="demo", unit="section", disable=not progress)
    for i, (key, title, fn) in enumerate(bar, 1):
        bar.set_postfix_str(title)
        log(f"[{i}/{len(SECTIONS)}] {title} ...")
        s = report.section(key, title)
        t0 = time.perf_counter()
        try:
            with torch.no_grad() if key not in ("inversion", "inpaint") else torch.enable_grad():
                fn(ctx, report, s)
        except Exception as exc:  # one broken section must not cost the others
            failed.append(key)
            report.error(s, f"{type(exc).__name__}: {exc}")
            log(f"    failed: {exc}\n{traceback.format_exc(limit=3)}")
        s.seconds = time.perf_counter() - t0
        report.write()
        log(f"    done in {s.seconds:.1f} s")
    bar.close()
    total = time.perf_counter() - t_start
    end = report.section("timing", "Timing")
    report.table(end, ["section", "seconds"], [(x.title, float(x.seconds or 0)) for x in report.sections[:-1]] +
                 [("total", total)])
    report.write()
    log(f"wrote {report.path} in {total:.0f} s" + (f" ({len(failed)} section(s) failed: {', '.join(failed)})" if failed else ""))
    return report.path
