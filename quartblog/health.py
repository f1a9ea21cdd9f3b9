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

from .db import RETRY_AFTER_SECONDS, DatabaseUnavailable, get_db, is_busy, is_unavailable
from .errors import UNAVAILABLE_MESSAGE

blueprint = Blueprint("health", __name__)

READY_TIMEOUT_SECONDS = 2.0
SCHEMA_BEHIND = "The database schema is not the one the code needs: run `alembic upgrade head`."


@blueprint.get("/healthz")
async def healthz():
    return {"status": "ok"}


def not_ready(message: str = UNAVAILABLE_MESSAGE):
    """Always JSON (probes send no Accept header), in the API's error shape."""
    return {"errors": {"body": [message]}}, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


@blueprint.get("/readyz")
async def readyz():
    from .migrations import SchemaOutOfDate

    db = get_db()
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        await db.check_schema()  # once; with no time limit (AUTO_MIGRATE may be upgrading)
    except SchemaOutOfDate:
        return not_ready(SCHEMA_BEHIND)
    except DatabaseUnavailable:
        return not_ready()
    except Exception as exc:
        if not (is_unavailable(exc) or is_busy(exc)):
            raise
        db.note_failure(exc)
        return not_ready()
    return {"status": "ready"}
