"""Masked inversion, inpainting and local edits (Image2StyleGAN++)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ganlens
from ganlens import GanlensError
from ganlens.directions import Direction
from ganlens.edit.masked import local_edit
from ganlens.restore import inpaint
from ganlens.io.masks import feather, load_mask, rect_mask
from ganlens.invert.losses import ReconstructionLoss, as_mask_tensor
from ganlens.invert.optimize import project


def test_masked_loss_has_zero_gradient_outside_the_mask():
    torch.manual_seed(0)
    target = torch.rand(2, 3, 16, 16) * 2 - 1
    mask = torch.zeros(2, 1, 16, 16)
    mask[:, :, 4:10, 3:12] = 1
    loss_fn = ReconstructionLoss(mse=1.0, l1=0.5)
    prepared = loss_fn.prepare(target, mask)
    x = (torch.rand(2, 3, 16, 16) * 2 - 1).requires_grad_(True)
    loss_fn(x, prepared).sum().backward()
    outside = (mask == 0).expand_as(x)
    assert x.grad[outside].abs().max() == 0
    assert x.grad[~outside].abs().min() > 0  # every masked pixel differs from the target, so each gets a push
    # Pixels outside the mask do not change the loss at all; inside they do.
    y = x.detach().clone()
    y[outside] = 0.123
    assert torch.allclose(loss_fn(y, prepared), loss_fn(x.detach(), prepared))
    # The mask's coverage normalises: a perfect fit inside is zero whatever lies outside.
    z = torch.where(outside, torch.ones_like(x), target)
    assert loss_fn(z.detach(), prepared).abs().max() < 1e-7


def test_masked_perceptual_term_ignores_pixels_outside_the_mask():
    torch.manual_seed(1)
    target = torch.rand(1, 3, 32, 32) * 2 - 1
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    loss_fn = ReconstructionLoss(mse=0.0, perceptual=1.0)
    prepared = loss_fn.prepare(target, mask)
    x = (torch.rand(1, 3, 32, 32) * 2 - 1).requires_grad_(True)
    loss_fn(x, prepared).sum().backward()
    assert x.grad[(mask == 0).expand_as(x)].abs().max() == 0


def test_mask_shapes_and_errors():
    assert as_mask_tensor(np.ones((8, 8), np.uint8) * 255, 3, 8).shape == (3, 1, 8, 8)
    with pytest.raises(GanlensError, match="does not fit"):
        as_mask_tensor(np.ones((4, 4)), 1, 8)
    with pytest.raises(GanlensError, match="selects no pixel"):
        as_mask_tensor(np.zeros((8, 8)), 1, 8)
    m = rect_mask("2,4,6,8", 16)
    assert m.sum() == 16 and m[4:8, 2:6].all()
    assert rect_mask("0.25,0,0.75,0.5", 16).sum() == 8 * 8
    for bad in ("1,2,3", "a,b,c,d", "5,5,5,9"):
        with pytest.raises(GanlensError, match="rectangle"):
            rect_mask(bad, 16)


def test_load_mask_from_png(tmp_path):
    from PIL import Image

    a = np.zeros((32, 32), np.uint8)
    a[:16] = 255
    Image.fromarray(a).save(tmp_path / "m.png")
    m = load_mask(tmp_path / "m.png", 16)
    assert m.shape == (16, 16) and m[:7].min() > 0.99 and m[9:].max() < 0.01
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "black.png")
    with pytest.raises(GanlensError, match="no white"):
        load_mask(tmp_path / "black.png", 16)
    with pytest.raises(GanlensError, match="not found"):
        load_mask(tmp_path / "nope.png", 16)


def test_inpainting_keeps_the_known_pixels_and_fills_the_hole(G):
    target = G.render(G.sample(2, seed=3))
    hole = rect_mask("4,4,12,12", G.img_resolution)
    holed = target.copy()
    holed[:, 4:12, 4:12] = 0  # punched out: black
    res = inpaint(G, holed, hole, steps=150, feather_px=0)
    known = hole == 0
    assert np.array_equal(res.blended[:, known], holed[:, known])  # outside the hole: the input, bit for bit
    assert np.array_equal(res.blended[:, ~known], res.reconstruction[:, ~known])
    # The fill comes from the generator fitted to the surroundings: closer to the truth than the black hole.
    err_fill = np.abs(res.blended[:, ~known].astype(float) - target[:, ~known]).mean()
    err_hole = np.abs(holed[:, ~known].astype(float) - target[:, ~known]).mean()
    assert err_fill < 0.5 * err_hole
    # Unmasked inversion of the holed image reproduces the hole instead (it is fitted, not ignored).
    plain = G.render(project(G, holed, steps=150).code)
    assert np.abs(plain[:, ~known].astype(float) - target[:, ~known]).mean() > err_fill


def test_local_edit_changes_only_the_region(G):
    code = G.sample(2, seed=5)
    d = Direction(np.random.default_rng(0).standard_normal(G.w_dim), "w")
    r = G.img_resolution
    region = rect_mask(f"0,0,8,{r}", r)
    out = local_edit(G, code, d, 3.0, region, feather_px=0)
    base, edited = G.render(code), G.render(ganlens.edit.move(code, d, [3.0]))
    assert np.array_equal(out[:, :, 8:], base[:, :, 8:])
    assert np.array_equal(out[:, :, :8], edited[:, :, :8])
    assert not np.array_equal(out, base)
    assert 0 < feather(region, 2)[:, 8].mean() < 1  # a soft edge
