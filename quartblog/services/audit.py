"""The audit log: every admin action writes one row (who, what, target, when).

``record`` is called by the service that does the action, in the same transaction,
so an action that fails (rolled back) leaves no entry, and one that succeeds always
has one.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import AuditEntry, User
from ..types import utcnow

DETAIL_MAX = 500
TARGET_MAX = 255


async def record(session: AsyncSession, actor: User, action: str, target: str, detail: str = "") -> None:
    session.add(AuditEntry(created_at=utcnow(), actor_id=actor.id, actor_name=actor.username,
                           action=action, target=target[:TARGET_MAX], detail=detail[:DETAIL_MAX]))
    await session.flush()


async def list_entries(session: AsyncSession, *, limit: int, offset: int):
    """Newest first: two statements (the count, the page by primary key)."""
    total = await session.scalar(select(func.count()).select_from(AuditEntry))
    items = list(await session.scalars(
        select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit).offset(offset)))
    from .paging import Page

    return Page(items=items, total=int(total or 0), limit=limit, offset=offset)
