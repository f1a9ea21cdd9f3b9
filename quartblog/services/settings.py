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
    # A setting with a few meanings: (value, N_() label) each, shown as a choice.
    choices: tuple[tuple[int, str], ...] = ()


HOLD_DAYS = "moderation.hold_new_accounts_days"
EMAIL_VERIFICATION = "accounts.email_verification"
# Values of EMAIL_VERIFICATION (services/verification.py).
VERIFICATION_OFF, VERIFICATION_OPTIONAL, VERIFICATION_REQUIRED = 0, 1, 2

SPECS: dict[str, SettingSpec] = {
    HOLD_DAYS: SettingSpec(
        HOLD_DAYS, default=0, minimum=0, maximum=3650,
        label=N_("Hold comments from new accounts (days)"),
        hint=N_("Comments from accounts younger than this many days wait for approval; 0 holds none."),
    ),
    EMAIL_VERIFICATION: SettingSpec(
        EMAIL_VERIFICATION, default=VERIFICATION_OFF, minimum=0, maximum=2,
        label=N_("Email verification"),
        hint=N_("A link is mailed to every new address (sign-up, a change of address). Required: "
                "accounts that have not followed it, older ones too, can neither write posts nor comment."),
        choices=((VERIFICATION_OFF, N_("Off: addresses are not verified")),
                 (VERIFICATION_OPTIONAL, N_("Optional: unverified accounts see a reminder")),
                 (VERIFICATION_REQUIRED, N_("Required: no posts or comments before verifying"))),
    ),
}


async def get_all(session: AsyncSession) -> dict[str, int]:
    """Every setting's value (stored or default), in one statement."""
    rows = dict((await session.execute(select(Setting.key, Setting.value))).all())
    return {key: value_of(key, rows.get(key)) for key in SPECS}


async def get(session: AsyncSession, key: str) -> int:
    return value_of(key, await session.scalar(select(Setting.value).where(Setting.key == key)))


def stored(key: str):
    """SQL: the stored text of a setting (NULL when it has its default): a scalar subquery
    that another statement can carry (the signed-in user's, services/sign_ins.py)."""
    return select(Setting.value).where(Setting.key == key).scalar_subquery()


def value_of(key: str, raw: str | None) -> int:
    """A setting's value from its stored text (``stored``)."""
    spec = SPECS[key]
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
        if spec.choices and value not in dict(spec.choices):
            errors.setdefault(key, []).append(N_("is not one of the choices"))
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
