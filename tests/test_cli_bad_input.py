"""Every CLI command fed bad input, as `ganlens` (cli.main) runs it: a non-zero exit, one line that names the
problem, no traceback, and nothing written or overwritten.

The table covers every command (a test checks that against the CLI's own command list). Each case is a command
line with placeholders ({d}: a folder of prepared inputs shared by the cases, {o}: a fresh output path that must
not appear) and the words its error line must contain. The run is in-process (fast); `test_console_script_*`
checks the real entry point once as a subprocess.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import ganlens

# --- Prepared inputs ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def d(tmp_path_factory, tiny_G) -> Path:
    """Inputs every case reads: unreadable files of every kind, codes of the wrong shape, existing outputs."""
    from ganlens.scoring import write_labels

    root = tmp_path_factory.mktemp("bad_inputs")
    (root / "text.txt").write_text("not a model, not a latent file\n")
    (root / "text.npz").write_text("a text file named like a latent file\n")
    (root / "text.png").write_text("a text file named like an image\n")
    (root / "text.safetensors").write_text("a text file named like a checkpoint\n")
    (root / "text.csv").write_text("only a header\n")
    (root / "empty").mkdir()
    (root / "bad_dirs").mkdir()
    (root / "bad_dirs" / "x.npz").write_text("not a direction\n")
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(root / "img.png")
    np.save(root / "array.npy", np.zeros((2, 128), np.float32))
    np.savez(root / "no_images.npz", factors=np.zeros((3, 13), np.float32))  # an .npz, but not a data set
    np.savez(root / "odd_size.npz", images=np.zeros((4, 48, 48, 3), np.uint8))  # 48 px: not a power of two
    np.savez(root / "faces.npz", images=np.zeros((4, 16, 16, 3), np.uint8))  # a usable (tiny) data set
    tiny_G.sample(2, seed=0).save(root / "tiny_w.npz")  # w codes of width 32: the wrong shape for synthfaces64
    write_labels(root / "tiny_w.csv", {"smile": np.array([0.1, 0.9])})
    G = ganlens.load("synthfaces64")
    G.sample(3, seed=0).save(root / "sf_w.npz")
    write_labels(root / "sf_w.csv", {"smile": np.array([0.1, 0.5, 0.9])})
    G.sample(2, seed=0, space="z").save(root / "sf_z.npz")
    for name in ("existing.png", "existing.npz", "existing.gif", "existing.safetensors", "scored.csv"):
        (root / name).write_bytes(b"keep me: " + name.encode())
    (root / "demo_out").mkdir()
    (root / "demo_out" / "index.html").write_text("<p>an earlier report</p>")
    (root / "discovered").mkdir()
    (root / "discovered" / "preview.png").write_bytes(b"keep me: preview")
    (root / "analysis").mkdir()
    (root / "analysis" / "analysis.json").write_text("{}")
    (root / "inverted_file").write_text("a file where a folder is expected\n")
    return root


# --- The table -----------------------------------------------------------------------------------------------------

SF = ["--model", "synthfaces64"]
TINY = ["--model", "random-tiny"]
RECT = ["--rect", "0.2,0.5,0.8,0.9"]
SHIPPED = str(Path(ganlens.__file__).parent / "assets" / "directions" / "synthfaces64")  # valid direction files
TINY_RUN = ["--data", "{d}/faces.npz", "--kimg", "0.004", "--batch", "4", "--snap", "0.004"]  # if it ran: briefly

# command -> [(case id, arguments after the command, words the error line must contain)]
CASES: dict[str, list[tuple[str, list[str], list[str]]]] = {
    "sample": [
        ("unknown-model", ["--model", "no-such-model", "--out", "{o}.png"], ["no-such-model"]),
        ("text-as-model", ["--model", "{d}/text.txt", "--out", "{o}.png"], ["text.txt"]),
        ("zero-samples", ["-n", "0", "--out", "{o}.png"], ["--num", "0"]),
        ("negative-cols", ["--cols", "-1", "--out", "{o}.png"], ["--cols", "-1"]),
        ("truncation-in-z", ["--space", "z", "--truncation", "0.7", "--out", "{o}.png"], ["truncation"]),
        ("existing-out", ["--out", "{d}/existing.png"], ["existing.png", "--overwrite"]),
        ("existing-latents", ["--out", "{o}.png", "--save-latents", "{d}/existing.npz"], ["existing.npz"]),
        ("out-is-folder", ["--out", "{d}/empty", "--overwrite"], ["empty", "directory"]),
        ("unknown-noise-mode", ["--noise-mode", "loud", "--out", "{o}.png"], ["loud"]),
        ("wrong-output-kind", ["--out", "{o}.txt"], [".txt"]),
        ("latents-not-npz", ["--out", "{o}.png", "--save-latents", "{o}.txt"], [".txt"]),
    ],
    "info": [
        ("unknown-model", ["no-such-model"], ["no-such-model"]),
        ("text-as-model", ["{d}/text.txt"], ["text.txt"]),
        ("text-as-checkpoint", ["{d}/text.safetensors"], ["text.safetensors"]),
        ("folder-as-model", ["{d}/empty"], ["empty"]),
    ],
    "data build": [
        ("unknown-domain", ["cats", "--out", "{o}.npz"], ["cats"]),
        ("zero-images", ["synthfaces", "--n", "0", "--out", "{o}.npz"], ["--n", "0"]),
        ("size-too-small", ["synthfaces", "--n", "2", "--size", "8", "--out", "{o}.npz"], ["--size", "8"]),
        ("existing-out", ["synthfaces", "--n", "2", "--out", "{d}/existing.npz"], ["existing.npz"]),
        ("wrong-output-kind", ["synthfaces", "--n", "2", "--out", "{o}.csv"], [".csv"]),
    ],
    "train gan": [
        ("missing-data", ["--data", "{d}/missing.npz", "--out", "{o}"], ["missing.npz"]),
        ("text-as-data", ["--data", "{d}/text.txt", "--out", "{o}"], ["text.txt"]),
        ("npz-without-images", ["--data", "{d}/no_images.npz", "--out", "{o}"], ["no_images.npz", "images"]),
        ("odd-resolution", ["--data", "{d}/odd_size.npz", "--out", "{o}"], ["odd_size.npz", "48"]),
        ("zero-batch", [*TINY_RUN, "--batch", "0", "--out", "{o}"], ["--batch", "0"]),
        ("negative-kimg", ["--data", "{d}/faces.npz", "--kimg", "-1", "--out", "{o}"], ["--kimg", "-1"]),
        ("mixing-above-one", [*TINY_RUN, "--mixing", "2", "--out", "{o}"], ["--mixing", "2"]),
        ("text-as-init", [*TINY_RUN, "--init", "{d}/text.txt", "--out", "{o}"], ["text.txt"]),
        ("warmup-without-init", [*TINY_RUN, "--d-warmup", "5", "--out", "{o}"], ["--init"]),
        ("out-is-file", [*TINY_RUN, "--out", "{d}/existing.png"], ["existing.png"]),
    ],
    "train encoder": [
        ("unknown-model", ["--model", "no-such-model", "--out", "{o}"], ["no-such-model"]),
        ("text-as-init", [*SF, "--init", "{d}/text.txt", "--out", "{o}"], ["text.txt"]),
        ("zero-minutes", [*SF, "--minutes", "0", "--out", "{o}"], ["--minutes", "0"]),
        ("pool-below-batch", [*SF, "--pool", "8", "--batch", "64", "--out", "{o}"], ["pool", "batch"]),
        ("fraction-above-one", [*SF, "--image-fraction", "1.5", "--out", "{o}"], ["--image-fraction", "1.5"]),
        ("out-is-file", [*SF, "--minutes", "0.01", "--out", "{d}/existing.png"], ["existing.png"]),
    ],
    "convert": [
        ("missing-source", ["{d}/missing.pkl", "--out", "{o}.safetensors"], ["missing.pkl"]),
        ("text-as-source", ["{d}/text.txt", "--out", "{o}.safetensors"], ["text.txt"]),
        ("wrong-output-kind", ["{d}/text.txt", "--out", "{o}.png"], [".safetensors"]),
        ("existing-out", ["{d}/text.txt", "--out", "{d}/existing.safetensors"], ["existing.safetensors"]),
        ("unknown-which", ["{d}/text.txt", "--which", "D", "--out", "{o}.safetensors"], ["--which", "D"]),
    ],
    "morph": [
        ("text-as-latents", ["seed:1", "{d}/text.npz", "--out", "{o}.gif"], ["text.npz", "latent file"]),
        ("missing-latents", ["seed:1", "{d}/missing.npz", "--out", "{o}.gif"], ["missing.npz"]),
        ("neither-seed-nor-file", ["seed:1", "smiley", "--out", "{o}.gif"], ["smiley"]),
        ("wrong-latent-shape", ["seed:1", "{d}/tiny_w.npz", "--out", "{o}.gif"], ["tiny_w.npz", "128"]),
        ("text-as-image", ["seed:1", "{d}/text.png", "--out", "{o}.gif"], ["text.png"]),
        ("one-frame", ["seed:1", "seed:2", "--frames", "1", "--out", "{o}.gif"], ["--frames", "1"]),
        ("existing-out", ["seed:1", "seed:2", "--out", "{d}/existing.gif"], ["existing.gif"]),
        ("unknown-format", ["seed:1", "seed:2", "--out", "{o}.txt"], [".txt"]),
    ],
    "mix": [
        ("text-as-latents", ["--content", "seed:1", "--style", "{d}/text.npz", "--out", "{o}.png"], ["text.npz"]),
        ("wrong-latent-shape", ["--content", "{d}/tiny_w.npz", "--style", "seed:2", "--out", "{o}.png"],
         ["tiny_w.npz", "128"]),
        ("layer-out-of-range", ["--content", "seed:1", "--style", "seed:2", "--layers", "12-40", "--out", "{o}.png"],
         ["12-40"]),
        ("unknown-layer-name", ["--content", "seed:1", "--style", "seed:2", "--layers", "mouth", "--out", "{o}.png"],
         ["mouth"]),
        ("existing-out", ["--content", "seed:1", "--style", "seed:2", "--out", "{d}/existing.png"], ["existing.png"]),
    ],
    "transfer": [
        ("wrong-latent-shape", ["--target", "{d}/tiny_w.npz", "--from", "seed:1", "--to", "seed:2", "--out", "{o}.png"],
         ["tiny_w.npz", "128"]),
        ("missing-image", ["--target", "seed:3", "--from", "seed:1", "--to", "{d}/missing.png", "--out", "{o}.png"],
         ["missing.png"]),
        ("existing-latents", ["--target", "seed:3", "--from", "seed:1", "--to", "seed:2", "--out", "{o}.png",
                              "--save-latents", "{d}/existing.npz"], ["existing.npz"]),
    ],
    "score": [
        ("unknown-scorer", [*SF, "--scorer", "no-such-scorer", "-n", "2", "--out", "{o}.npz"], ["no-such-scorer"]),
        ("missing-scorer-file", [*SF, "--scorer", "{d}/missing.py:fn", "-n", "2", "--out", "{o}.npz"], ["missing.py"]),
        ("zero-samples", [*SF, "-n", "0", "--out", "{o}.npz"], ["--samples", "0"]),
        ("zero-batch", [*SF, "-n", "2", "--batch-size", "0", "--out", "{o}.npz"], ["--batch-size", "0"]),
        ("text-as-model", ["--model", "{d}/text.txt", "-n", "2", "--out", "{o}.npz"], ["text.txt"]),
        ("existing-out", [*SF, "-n", "2", "--out", "{d}/existing.npz"], ["existing.npz"]),
        ("existing-csv-beside", [*SF, "-n", "2", "--out", "{d}/scored.npz"], ["scored.csv"]),
        ("wrong-output-kind", [*SF, "-n", "2", "--out", "{o}.csv"], [".csv"]),
    ],
    "boundary": [
        ("unknown-attribute", [*SF, "-a", "mustache", "--samples", "20000", "--out", "{o}.npz"], ["mustache"]),
        ("unknown-attribute-gradient", [*SF, "-a", "mustache", "--method", "gradient", "--out", "{o}.npz"],
         ["mustache"]),
        ("unknown-attribute-labels", [*SF, "-a", "mustache", "--latents", "{d}/sf_w.npz", "--out", "{o}.npz"],
         ["mustache"]),
        ("text-as-latents", [*SF, "-a", "smile", "--latents", "{d}/text.txt", "--out", "{o}.npz"],
         ["text.txt", "latent file"]),
        ("wrong-latent-shape", [*SF, "-a", "smile", "--latents", "{d}/tiny_w.npz", "--out", "{o}.npz"], ["128"]),
        ("labels-without-rows", [*SF, "-a", "smile", "--latents", "{d}/sf_w.npz", "--labels", "{d}/text.csv",
                                 "--out", "{o}.npz"], ["text.csv"]),
        ("ratio-above-half", [*SF, "-a", "smile", "--latents", "{d}/sf_w.npz", "--ratio", "2", "--out", "{o}.npz"],
         ["--ratio", "2"]),
        ("split-above-one", [*SF, "-a", "smile", "--latents", "{d}/sf_w.npz", "--split", "1.5", "--out", "{o}.npz"],
         ["--split", "1.5"]),
        ("one-sample", [*SF, "-a", "smile", "--samples", "1", "--out", "{o}.npz"], ["--samples", "1"]),
        ("existing-out", [*SF, "-a", "smile", "--samples", "20000", "--out", "{d}/existing.npz"], ["existing.npz"]),
        ("several-into-one-file", [*SF, "-a", "smile", "-a", "age", "--samples", "20000", "--out", "{o}.npz"],
         ["folder"]),
    ],
    "edit": [
        ("unknown-direction", [*SF, "-d", "mustache", "--seeds", "0", "--out", "{o}.png"], ["mustache"]),
        ("text-as-direction", [*SF, "-d", "{d}/text.npz", "--seeds", "0", "--out", "{o}.png"], ["text.npz"]),
        ("text-as-latents", [*SF, "-d", "smile", "--latents", "{d}/text.txt", "--out", "{o}.png"], ["text.txt"]),
        ("npy-as-latents", [*SF, "-d", "smile", "--latents", "{d}/array.npy", "--out", "{o}.png"], ["array.npy"]),
        ("wrong-latent-shape", [*SF, "-d", "smile", "--latents", "{d}/tiny_w.npz", "--out", "{o}.png"], ["128"]),
        ("rows-out-of-range", [*SF, "-d", "smile", "--latents", "{d}/sf_w.npz", "--rows", "5", "--out", "{o}.png"],
         ["--rows", "5"]),
        ("seeds-backwards", [*SF, "-d", "smile", "--seeds", "5-1", "--out", "{o}.png"], ["5-1"]),
        ("bad-strengths", [*SF, "-d", "smile", "--seeds", "0", "--strengths", "lots", "--out", "{o}.png"], ["lots"]),
        ("layer-out-of-range", [*SF, "-d", "smile", "--seeds", "0", "--layers", "40", "--out", "{o}.png"], ["40"]),
        ("bad-joint", [*SF, "-d", "smile", "--seeds", "0", "--add", "age:much", "--out", "{o}.png"], ["age:much"]),
        ("existing-out", [*SF, "-d", "smile", "--seeds", "0", "--out", "{d}/existing.png"], ["existing.png"]),
        ("seeds-not-numbers", [*SF, "-d", "smile", "--seeds", "a-b", "--out", "{o}.png"], ["--seeds", "a-b"]),
        ("existing-video", [*SF, "-d", "smile", "--seeds", "0", "--out", "{o}.png", "--video", "{d}/existing.gif"],
         ["existing.gif"]),
        ("unknown-video-format", [*SF, "-d", "smile", "--seeds", "0", "--out", "{o}.png", "--video", "{o}.txt"],
         [".txt"]),
    ],
    "ascend": [
        ("unknown-attribute", [*SF, "-a", "mustache", "--seeds", "0", "--out", "{o}.png"], ["mustache"]),
        ("unknown-kept-attribute", [*SF, "-a", "smile", "-k", "mustache", "--seeds", "0", "--out", "{o}.png"],
         ["mustache"]),
        ("text-as-latents", [*SF, "-a", "smile", "--latents", "{d}/text.txt", "--out", "{o}.png"], ["text.txt"]),
        ("wrong-latent-shape", [*SF, "-a", "smile", "--latents", "{d}/tiny_w.npz", "--out", "{o}.png"], ["128"]),
        ("bad-distances", [*SF, "-a", "smile", "--seeds", "0", "--distances", "far", "--out", "{o}.png"], ["far"]),
        ("zero-step", [*SF, "-a", "smile", "--seeds", "0", "--step", "0", "--out", "{o}.png"], ["--step", "0"]),
        ("unknown-guard", [*SF, "-a", "smile", "-k", "age", "--guard", "no-such-guard", "--seeds", "0",
                           "--out", "{o}.png"], ["no-such-guard"]),
        ("existing-out", [*SF, "-a", "smile", "--seeds", "0", "--out", "{d}/existing.png"], ["existing.png"]),
    ],
    "discover": [
        ("layer-out-of-range", [*SF, "--method", "sefa", "--layers", "30-40", "--out", "{o}"], ["30-40"]),
        ("zero-directions", [*SF, "--method", "sefa", "--num", "0", "--out", "{o}"], ["--num", "0"]),
        ("more-than-components", [*SF, "--method", "ganspace", "--num", "10", "--components", "5", "--samples",
                                  "100", "--out", "{o}"], ["--num", "--components"]),
        ("unknown-scorer", [*SF, "--method", "sefa", "--scorer", "no-such-scorer", "--out", "{o}"],
         ["no-such-scorer"]),
        ("unknown-method", [*SF, "--method", "pca", "--out", "{o}"], ["pca"]),
        ("existing-preview", [*SF, "--method", "sefa", "--num", "2", "--out", "{d}/discovered"], ["preview.png"]),
    ],
    "analyze": [
        ("missing-folder", [*SF, "--directions", "{d}/missing", "--out", "{o}"], ["missing"]),
        ("empty-folder", [*SF, "--directions", "{d}/empty", "--out", "{o}"], ["empty"]),
        ("text-as-direction", [*SF, "--directions", "{d}/bad_dirs", "--out", "{o}"], ["x.npz"]),
        ("unknown-scorer", [*SF, "--scorer", "no-such-scorer", "--directions", SHIPPED, "--out", "{o}"],
         ["no-such-scorer"]),
        ("one-sample", [*SF, "--directions", "{d}/bad_dirs", "--samples", "1", "--out", "{o}"], ["--samples", "1"]),
        ("existing-analysis", [*SF, "--directions", SHIPPED, "--out", "{d}/analysis"], ["analysis.json"]),
    ],
    "invert": [
        ("only-unreadable", ["{d}/text.png", *SF, "--method", "encoder", "--out", "{o}"], ["text.png"]),
        ("empty-folder", ["{d}/empty", *SF, "--out", "{o}"], ["empty"]),
        ("missing-image", ["{d}/missing.png", *SF, "--out", "{o}"], ["missing.png"]),
        ("zero-steps", ["{d}/img.png", *SF, "--method", "optim", "--steps", "0", "--out", "{o}"], ["--steps", "0"]),
        ("text-as-encoder", ["{d}/img.png", *SF, "--method", "encoder", "--encoder", "{d}/text.txt", "--out", "{o}"],
         ["text.txt"]),
        ("text-as-model", ["{d}/img.png", "--model", "{d}/text.txt", "--out", "{o}"], ["text.txt"]),
        ("encoder-with-steps", ["{d}/img.png", *SF, "--method", "encoder", "--steps", "5", "--out", "{o}"],
         ["--steps"]),
        ("out-is-file", ["{d}/img.png", *SF, "--method", "encoder", "--out", "{d}/inverted_file"], ["inverted_file"]),
    ],
    "align": [
        ("missing-image", ["{d}/missing.png", "--out", "{o}"], ["missing.png"]),
        ("empty-folder", ["{d}/empty", "--out", "{o}"], ["empty"]),
        ("size-too-small", ["{d}/img.png", "--size", "2", "--out", "{o}"], ["--size", "2"]),
    ],
    "inpaint": [
        ("missing-image", ["{d}/missing.png", *RECT, "--out", "{o}.png"], ["missing.png"]),
        ("text-as-image", ["{d}/text.png", *RECT, "--out", "{o}.png"], ["text.png"]),
        ("text-as-mask", ["{d}/img.png", "--mask", "{d}/text.png", "--out", "{o}.png"], ["text.png"]),
        ("no-hole", ["{d}/img.png", "--out", "{o}.png"], ["--mask", "--rect"]),
        ("bad-rect", ["{d}/img.png", "--rect", "1,2", "--out", "{o}.png"], ["1,2"]),
        ("empty-rect", ["{d}/img.png", "--rect", "40,40,10,10", "--out", "{o}.png"], ["40,40,10,10"]),
        ("zero-steps", ["{d}/img.png", *RECT, "--steps", "0", "--out", "{o}.png"], ["--steps", "0"]),
        ("existing-out", ["{d}/img.png", *RECT, "--out", "{d}/existing.png"], ["existing.png"]),
        ("latents-not-npz", ["{d}/img.png", *RECT, "--out", "{o}.png", "--save-latents", "{o}.pt"], [".pt"]),
    ],
    "restore": [
        ("missing-image", ["{d}/missing.png", "--task", "sr:4", "--out", "{o}.png"], ["missing.png"]),
        ("text-as-image", ["{d}/text.png", "--task", "sr:4", "--out", "{o}.png"], ["text.png"]),
        ("unknown-task", ["{d}/img.png", "--task", "zoom:4", "--out", "{o}.png"], ["zoom"]),
        ("bad-factor", ["{d}/img.png", "--task", "sr:x", "--out", "{o}.png"], ["'x'"]),
        ("bad-rect", ["{d}/img.png", "--task", "inpaint:1,2", "--out", "{o}.png"], ["1,2"]),
        ("unknown-method", ["{d}/img.png", "--task", "sr:4", "--method", "magic", "--out", "{o}.png"], ["magic"]),
        ("existing-out", ["{d}/img.png", "--task", "sr:4", "--out", "{d}/existing.png"], ["existing.png"]),
        ("latents-not-npz", ["{d}/img.png", "--task", "sr:4", "--out", "{o}.png", "--save-latents", "{o}.pt"],
         [".pt"]),
    ],
    "fix": [
        ("no-predictor", ["--model", "random-tiny", "--out", "{o}.png"], ["ships no predictor"]),
        ("bad-strengths", ["--strengths", "a,b", "--out", "{o}.png"], ["--strengths"]),
        ("bad-seeds", ["--seeds", "3-1", "--out", "{o}.png"], ["--seeds"]),
        ("missing-reference", ["--reference", "{d}/empty", "--features", "mobilenet", "--out", "{o}.png"],
         ["found 0 images"]),
        ("existing-out", ["--out", "{d}/existing.png"], ["existing.png"]),
    ],
    "local-edit": [
        ("unknown-direction", ["seed:1", "-d", "mustache", *RECT, "--out", "{o}.png"], ["mustache"]),
        ("text-as-latents", ["{d}/text.npz", "-d", "smile", *RECT, "--out", "{o}.png"], ["text.npz"]),
        ("wrong-latent-shape", ["{d}/tiny_w.npz", "-d", "smile", *RECT, "--out", "{o}.png"], ["128"]),
        ("layer-out-of-range", ["seed:1", "-d", "smile", *RECT, "--layers", "50", "--out", "{o}.png"], ["50"]),
        ("bad-rect", ["seed:1", "-d", "smile", "--rect", "mouth", "--out", "{o}.png"], ["mouth"]),
        ("existing-out", ["seed:1", "-d", "smile", *RECT, "--out", "{d}/existing.png"], ["existing.png"]),
    ],
    "control": [
        ("unknown-attribute", [*SF, "--set", "mustache=1", "--out", "{o}.png"], ["mustache"]),
        ("not-attr-value", [*SF, "--set", "yaw", "--out", "{o}.png"], ["yaw"]),
        ("value-not-a-number", [*SF, "--set", "yaw=left", "--out", "{o}.png"], ["left"]),
        ("text-as-controls", [*SF, "--set", "yaw=0.5", "--controls", "{d}/text.txt", "--out", "{o}.png"],
         ["text.txt"]),
        ("no-controls-shipped", [*TINY, "--set", "yaw=0.5", "--out", "{o}.png"], ["random-tiny"]),
        ("zero-samples", [*SF, "--set", "yaw=0.5", "-n", "0", "--out", "{o}.png"], ["--num", "0"]),
        ("existing-out", [*SF, "--set", "yaw=0.5", "--out", "{d}/existing.png"], ["existing.png"]),
        ("wrong-output-kind", [*SF, "--set", "yaw=0.5", "--out", "{o}.gif"], [".gif"]),
    ],
    "demo": [
        ("unknown-model", ["--model", "no-such-model", "--out", "{o}"], ["no-such-model"]),
        ("model-without-scorer", [*TINY, "--out", "{o}"], ["random-tiny"]),
        ("existing-report", ["--out", "{d}/demo_out"], ["index.html"]),
    ],
    "serve": [
        ("unknown-model", ["--model", "no-such-model"], ["no-such-model"]),
        ("missing-directions", [*SF, "--directions", "{d}/missing"], ["missing"]),
        ("text-as-direction", [*SF, "--directions", "{d}/bad_dirs", "--sefa", "0"], ["x.npz"]),
        ("unknown-guard", [*SF, "--guard", "no-such-guard", "--sefa", "0"], ["no-such-guard"]),
        ("empty-directions", [*SF, "--directions", "{d}/empty", "--sefa", "0"], ["empty"]),
        ("port-out-of-range", [*SF, "--port", "70000"], ["--port", "70000"]),
    ],
}

TABLE = [pytest.param(cmd, args, words, id=f"{cmd.replace(' ', '-')}:{case}")
         for cmd, cases in CASES.items() for case, args, words in cases]


# --- Running a command as the console script does -----------------------------------------------------------------


def run_cli(argv: list[str]) -> tuple[int | str, str, str]:
    """(exit code, or 'exception' if one escaped `ganlens.cli.main`; stdout + stderr; the traceback if any)."""
    from ganlens.cli import main

    runner = CliRunner()
    code: int | str = 0
    tb = ""
    with runner.isolation() as (_, _, output):
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception:  # anything else escaping main is what this file is about
            code, tb = "exception", traceback.format_exc()
        text = output.getvalue().decode(errors="replace")
    return code, text, tb


def snapshot(*roots: Path) -> dict[str, str]:
    """Every path under `roots` with a digest of its content ('dir' for folders)."""
    out = {}
    for root in roots:
        if not root.exists():
            continue
        for p in sorted([root, *root.rglob("*")]):
            out[str(p)] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture()
def no_server(monkeypatch):
    """`serve` must never get as far as binding a port: a case that does fails instead of blocking."""
    uvicorn = pytest.importorskip("uvicorn", reason="serve needs the web extra")

    def refuse(*a, **k):
        raise AssertionError("serve started the server despite bad input")

    monkeypatch.setattr(uvicorn, "run", refuse)


@pytest.mark.parametrize("command, args, words", TABLE)
def test_bad_input_is_one_line_nonzero_and_writes_nothing(command, args, words, d, tmp_path, monkeypatch, request):
    if command == "serve":
        request.getfixturevalue("no_server")
    cwd = tmp_path / "cwd"  # where a command would write a default output (demo/)
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("GANLENS_CACHE", str(tmp_path / "cache"))  # image inversions are cached there
    o = tmp_path / "out"
    argv = command.split() + [a.format(d=d, o=o) for a in args]
    before = snapshot(d, tmp_path)
    t0 = time.perf_counter()
    code, output, tb = run_cli(argv)
    seconds = time.perf_counter() - t0
    assert code != "exception", f"{argv} raised instead of reporting:\n{tb}"
    assert code != 0, f"{argv} exited 0:\n{output}"
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), f"expected one line 'error: ...', got:\n{output}"
    for word in words:
        assert word.lower() in lines[0].lower(), f"{word!r} not named in: {lines[0]}"
    after = snapshot(d, tmp_path)
    changed = sorted(set(after) ^ set(before)) or [k for k in after if after[k] != before[k]]
    assert not changed, f"{argv} wrote or changed: {changed}"
    assert seconds < 20, f"{argv} took {seconds:.1f} s to refuse bad input (check first, then work)"


def test_the_table_covers_every_command():
    import click

    from ganlens.cli import cli

    def leaves(group: click.Group, prefix: list[str]):
        for name, cmd in group.commands.items():
            if isinstance(cmd, click.Group):
                yield from leaves(cmd, prefix + [name])
            else:
                yield " ".join(prefix + [name])

    commands = set(leaves(cli, []))
    assert commands == set(CASES), f"commands without bad-input cases: {commands - set(CASES)}"
    assert all(len(cases) >= 3 for cases in CASES.values())


def test_boundary_checks_the_attribute_before_scoring(d, tmp_path):
    """Issue #32: `boundary -a mustache --samples 20000` scored every sample before saying so."""
    t0 = time.perf_counter()
    code, output, _ = run_cli(["boundary", "-a", "mustache", "--samples", "20000", "--out", str(tmp_path / "m.npz")])
    assert code == 1 and "mustache" in output and "smile" in output  # names the problem and what exists
    assert time.perf_counter() - t0 < 10 and "scoring" not in output


def test_invert_of_only_unreadable_images_fails(d, tmp_path):
    """Issue #32: inputs that are all unreadable exited 0 ('0 of 1 images inverted')."""
    code, output, _ = run_cli(["invert", str(d / "text.png"), "--method", "encoder", "--out",
                               str(tmp_path / "inv")])
    assert code == 1 and output.strip().startswith("error:") and output.count("\n") == 1
    assert "none of the 1 image(s) could be read" in output and "text.png" in output
    assert not (tmp_path / "inv").exists()


def test_text_file_as_latents_names_the_file_and_what_was_expected(d):
    """Issue #32: a text file as --latents gave numpy's 'allow_pickle' message."""
    from ganlens import LatentCode, LatentError

    for name in ("text.txt", "text.npz", "array.npy"):
        with pytest.raises(LatentError) as err:
            LatentCode.load(d / name)
        msg = str(err.value)
        assert name in msg and "ganlens latent file" in msg and "allow_pickle" not in msg and "\n" not in msg


def test_console_script_reports_bad_input_on_one_line(d, tmp_path):
    """The real entry point (a subprocess): one line on stderr, exit 1, for a library error and a usage error."""
    r = subprocess.run([sys.executable, "-m", "ganlens", "edit", "-d", "smile", "--latents", str(d / "text.txt"),
                        "--out", str(tmp_path / "e.png")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stdout == "" and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("error: ") and "text.txt" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "ganlens", "sample", "-n", "0", "--out", str(tmp_path / "s.png")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--num" in r.stderr, r.stderr
    assert not list(tmp_path.iterdir())
