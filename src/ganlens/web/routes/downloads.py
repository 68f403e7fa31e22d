"""Downloads: the morph GIF, the current code as .npz and the current image as PNG."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from ...errors import GanlensError
from ..context import Ctx, Leased

router = APIRouter(prefix="/api/sessions")


@router.get("/{sid}/morph.gif")
def morph_gif(session: Leased) -> Response:
    """The tab's last morph; 404 before the first one."""
    if session.morph_gif is None:
        return JSONResponse({"error": "no morph yet: press Morph first"}, 404)
    return Response(session.morph_gif, media_type="image/gif",
                    headers={"Content-Disposition": 'inline; filename="ganlens_morph.gif"'})


@router.get("/{sid}/latent.npz")
def latent(session: Leased, ctx: Ctx) -> Response:
    """The current code as a `LatentCode` .npz."""
    code = ctx.current_code(session)
    with tempfile.TemporaryDirectory(prefix="ganlens-latent-") as tmp:
        data = code.save(Path(tmp) / "latent.npz").read_bytes()
    return Response(data, media_type="application/octet-stream",
                    headers={"Content-Disposition": 'attachment; filename="ganlens_latent.npz"'})


@router.get("/{sid}/image.png")
def image(session: Leased, ctx: Ctx, scale: int = 1) -> Response:
    """The current image as PNG, enlarged `scale` times (1 to 16, nearest neighbour)."""
    if not 1 <= scale <= 16:
        raise GanlensError(f"scale must be from 1 to 16, got {scale}")
    png = ctx.render(ctx.current_code(session), scale=scale).png
    return Response(png, media_type="image/png",
                    headers={"Content-Disposition": 'attachment; filename="ganlens_image.png"'})
