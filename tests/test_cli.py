"""The command line end to end, as a user runs it (subprocess: real exit codes, real stderr)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganlens import LatentCode

CHECK = Path(__file__).resolve().parent.parent / "results" / "check_predictor" / "synthfaces64-check.safetensors"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganlens", *args], capture_output=True, text=True, timeout=120)


def test_sample_writes_grid_and_latents(tmp_path):
    out, lat = tmp_path / "grid.png", tmp_path / "codes.npz"
    r = run("sample", "--model", "random-tiny", "-n", "6", "--seed", "3", "--truncation", "0.7",
            "--out", str(out), "--save-latents", str(lat), "--scale", "1")
    assert r.returncode == 0, r.stderr
    img = np.asarray(Image.open(out))
    assert img.shape == (2 + 2 * 34, 2 + 3 * 34, 3)  # 3x2 grid of 32 px tiles with 2 px padding
    code = LatentCode.load(lat)
    assert code.space == "w" and code.tensor.shape == (6, 32) and code.meta["seed"] == 3
    # Not overwritten silently.
    r2 = run("sample", "--model", "random-tiny", "--out", str(out))
    assert r2.returncode != 0 and "already exists" in r2.stderr


def test_data_build_with_and_without_the_correlations(tmp_path):
    from ganlens.synthdata import load_dataset, sample_factors

    r = run("data", "build", "synthfaces", "--n", "12", "--seed", "5", "--size", "16", "--independent",
            "--out", str(tmp_path / "i.npz"))
    assert r.returncode == 0, r.stderr
    assert "independent factors" in r.stdout
    ds = load_dataset(tmp_path / "i.npz")
    assert ds.independent and ds.images.shape == (12, 16, 16, 3)
    assert np.array_equal(ds.factors, sample_factors(12, 5, independent=True))


def test_info_json():
    r = run("info", "random-tiny", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["num_ws"] == 8 and doc["resolution"] == 32 and doc["parameters"] > 10_000


def test_bad_input_is_one_line_and_nonzero(tmp_path):
    r = run("info", "no-such-model")
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and "random-tiny" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "broken.safetensors").write_bytes(b"\x00" * 10)
    r = run("sample", "--model", str(tmp_path / "broken.safetensors"), "--out", str(tmp_path / "x.png"))
    assert r.returncode == 1 and "Traceback" not in r.stderr and "broken.safetensors" in r.stderr


def test_every_command_has_help_with_an_example():
    import click
    from click.testing import CliRunner

    from ganlens.cli import cli

    def leaves(group: click.Group, prefix: list[str]):
        for name, cmd in group.commands.items():
            if isinstance(cmd, click.Group):
                yield from leaves(cmd, prefix + [name])
            else:
                yield prefix + [name]

    commands = list(leaves(cli, []))
    assert len(commands) >= 21 and ["serve"] in commands and ["demo"] in commands and ["control"] in commands
    for cmd in commands:
        r = CliRunner().invoke(cli, cmd + ["--help"])
        assert r.exit_code == 0 and "Example" in r.output, cmd


def test_morph_mix_transfer_commands(tmp_path):
    gif, grid, tr = tmp_path / "m.gif", tmp_path / "mix.png", tmp_path / "t.png"
    r = run("morph", "seed:1", "seed:2", "--model", "random-tiny", "--frames", "4", "--pingpong", "--out", str(gif))
    assert r.returncode == 0, r.stderr
    with Image.open(gif) as im:
        assert im.n_frames == 6
    r = run("mix", "--model", "random-tiny", "--content", "seed:1", "--content", "seed:2", "--style", "seed:3",
            "--layers", "coarse", "--scale", "1", "--out", str(grid))
    assert r.returncode == 0, r.stderr
    assert np.asarray(Image.open(grid)).shape == (2 + 3 * 34, 2 + 2 * 34, 3)  # header row + 2 rows, 1 + 1 columns
    lat = tmp_path / "r.npz"
    r = run("transfer", "--model", "random-tiny", "--target", "seed:1", "--from", "seed:2", "--to", "seed:3",
            "--out", str(tr), "--save-latents", str(lat))
    assert r.returncode == 0 and LatentCode.load(lat).space == "w+"
    r = run("morph", "photo.png", "seed:2", "--model", "random-tiny", "--out", str(tmp_path / "x.gif"))
    assert r.returncode == 1 and "image not found: photo.png" in r.stderr
    r = run("morph", "notes.txt", "seed:2", "--model", "random-tiny", "--out", str(tmp_path / "x.gif"))
    assert r.returncode == 1 and "neither a seed" in r.stderr


def test_ascend_writes_grid_and_codes_and_refuses_layers_in_z(tmp_path):
    out, lat = tmp_path / "g.png", tmp_path / "g.npz"
    r = run("ascend", "-a", "smile", "-k", "age", "--seeds", "0-1", "--distances", "0,1", "--layers", "5-9",
            "--no-restore", "--guard", str(CHECK), "--out", str(out), "--save-latents", str(lat), "--scale", "1")
    assert r.returncode == 0, r.stderr
    code = LatentCode.load(lat)
    assert code.space == "w+" and code.tensor.shape == (4, 10, 128) and code.meta["keep"] == ["age"]
    assert code.meta["restore"] is False and code.meta["guards"] == [str(CHECK)]
    assert "mean change at +1" in r.stdout and "smile +" in r.stdout
    assert "guard synthfaces64-check.safetensors: age" in r.stdout
    assert torch.equal(code.tensor[0], code.tensor[0, :1].expand(10, -1))  # distance 0: the sample itself
    assert torch.equal(code.tensor[1, :5], code.tensor[0, :5]) and not torch.equal(code.tensor[1, 5:], code.tensor[0, 5:])
    assert Image.open(out).size[0] > 2 * 64
    r = run("ascend", "-a", "smile", "--space", "z", "--layers", "0-2", "--seeds", "0", "--out", str(tmp_path / "z.png"))
    assert r.returncode != 0 and "these codes are in Z" in r.stderr


def test_ascend_holds_under_the_bundled_guard_unless_told_not_to(tmp_path):
    from ganlens.scoring import choose_guards

    lat = tmp_path / "g.npz"
    args = ("ascend", "-a", "glasses", "-k", "age", "--seeds", "3", "--distances", "0,1", "--step", "0.5",
            "--out", str(tmp_path / "g.png"), "--save-latents", str(lat), "--overwrite")
    r = run(*args)
    assert r.returncode == 0, r.stderr
    assert "guard synthfaces64-independent: age" in r.stdout
    assert LatentCode.load(lat).meta["guards"] == ["synthfaces64-independent"]
    r = run(*args, "--guard", "none")
    assert r.returncode == 0, r.stderr
    assert "guard" not in r.stdout and LatentCode.load(lat).meta["guards"] == []
    r = run(*args, "--guard", "none", "--guard", str(CHECK))
    assert r.returncode == 1 and "guard 'none' cannot be combined" in r.stderr
    # 'auto' picks nothing without --keep, or for a model with no bundled guard (the rule the web UI shares).
    assert choose_guards(("auto",), "synthfaces64", ()) == [] and choose_guards(("auto",), "random-tiny", ("age",)) == []
    assert [n for n, _ in choose_guards(("auto", str(CHECK)), "synthfaces64", ("age",))] == [
        "synthfaces64-independent", str(CHECK)]
