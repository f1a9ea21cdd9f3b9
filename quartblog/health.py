"""``/healthz``: a constant answer with no database work, for load balancers."""

from quart import Blueprint

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
async def healthz():
    return {"status": "ok"}
