"""Health checks for load balancers and orchestrators.

* ``/healthz``, liveness: a constant answer with no database work (the process
  serves requests; restarting it would not bring the database back).
* ``/readyz``, readiness: ``SELECT 1`` within ``READY_TIMEOUT_SECONDS``, and the
  schema's revision checked; 200, or 503 with Retry-After while the database is
  unavailable or its schema is behind the code.
"""

import asyncio

from quart import Blueprint
from sqlalchemy import text

from ..db import RETRY_AFTER_SECONDS, SchemaNotReady, get_db
from .errors import UNAVAILABLE_MESSAGE
from .startup import get_schema_gate

blueprint = Blueprint("health", __name__)

READY_TIMEOUT_SECONDS = 2.0
SCHEMA_NOT_READY = ("The database is reachable but not ready (see the log): "
                    "if its schema is behind the code, run `alembic upgrade head`.")


@blueprint.get("/healthz")
async def healthz():
    return {"status": "ok"}


def not_ready(message: str = UNAVAILABLE_MESSAGE):
    """Always JSON (probes send no Accept header), in the API's error shape."""
    return {"errors": {"body": [message]}}, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


@blueprint.get("/readyz")
async def readyz():
    db, gate = get_db(), get_schema_gate()
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        await gate.check()  # once; with no time limit (AUTO_MIGRATE may be upgrading)
    except Exception as exc:
        if db.note_failure(exc):  # unreachable, or too slow (a TimeoutError is an outage)
            return not_ready()
        if gate.problem is not None or isinstance(exc, SchemaNotReady):
            return not_ready(SCHEMA_NOT_READY)
        raise
    return {"status": "ready"}
