"""The blog's run-time settings: a key/value table that admins edit in the admin.

Each setting is declared here with its default and its check; what is not stored
has its default.  (Deployment settings stay ``QUARTBLOG_*`` variables: config.py.)
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Setting
from .errors import Message, N_, ValidationFailed
from .upsert import insert_missing


@dataclass(frozen=True)
class SettingSpec:
    key: str
    default: int
    minimum: int
    maximum: int
    label: str       # N_() message, shown in the admin
    hint: str        # N_() message


HOLD_DAYS = "moderation.hold_new_accounts_days"

SPECS: dict[str, SettingSpec] = {
    HOLD_DAYS: SettingSpec(
        HOLD_DAYS, default=0, minimum=0, maximum=3650,
        label=N_("Hold comments from new accounts (days)"),
        hint=N_("Comments from accounts younger than this many days wait for approval; 0 holds none."),
    ),
}


async def get_all(session: AsyncSession) -> dict[str, int]:
    """Every setting's value (stored or default), in one statement."""
    stored = dict((await session.execute(select(Setting.key, Setting.value))).all())
    values = {}
    for key, spec in SPECS.items():
        try:
            values[key] = int(stored[key]) if key in stored else spec.default
        except ValueError:
            values[key] = spec.default
    return values


async def get(session: AsyncSession, key: str) -> int:
    spec = SPECS[key]
    raw = await session.scalar(select(Setting.value).where(Setting.key == key))
    try:
        return int(raw) if raw is not None else spec.default
    except ValueError:
        return spec.default


def parse(changes: dict[str, str | int | None]) -> dict[str, int]:
    """Check new values (all of them first: nothing is half saved); unknown keys are refused."""
    errors: dict[str, list[str]] = {}
    values: dict[str, int] = {}
    for key, raw in changes.items():
        spec = SPECS.get(key)
        if spec is None:
            errors.setdefault(key, []).append(N_("is not a known setting"))
            continue
        try:
            value = int(str(raw).strip())
        except (TypeError, ValueError):
            errors.setdefault(key, []).append(N_("must be a whole number"))
            continue
        if not spec.minimum <= value <= spec.maximum:
            errors.setdefault(key, []).append(Message(
                "must be between %(minimum)d and %(maximum)d", minimum=spec.minimum, maximum=spec.maximum))
            continue
        values[key] = value
    if errors:
        raise ValidationFailed(errors)
    return values


async def store(session: AsyncSession, values: dict[str, int]) -> None:
    """Write checked values (``parse``): insert the missing keys, then update them all."""
    if not values:
        return
    await insert_missing(session, Setting.__table__,
                         [{"key": k, "value": str(v)} for k, v in values.items()], ["key"])
    for key, value in sorted(values.items()):
        row = await session.get(Setting, key, with_for_update=True, populate_existing=True)
        row.value = str(value)
    await session.flush()
