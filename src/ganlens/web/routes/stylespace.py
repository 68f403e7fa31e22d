"""Style channels (StyleSpace): the top channels of S per attribute, which the page shows as sliders. Per model, not
per tab: a slider's key ('style:LAYER:INDEX') then goes into the tab's edit like any other slider's."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..context import Ctx

router = APIRouter(prefix="/api/stylespace")


@router.get("/{attribute}")
def channels(attribute: str, ctx: Ctx) -> JSONResponse:
    """The attribute's top channels by the sensitivity route, each with its slider key, layer, index within the
    layer, index in S, spread (the slider's unit) and sensitivity (score change per spread; its sign says which way
    raises the attribute). Ranked on the first request for the attribute (seconds), then answered from memory."""
    styles = ctx.studio.styles
    return JSONResponse({"attribute": attribute, "route": styles.route, "samples": styles.samples,
                         "channels": styles.channels(attribute[:64])})
