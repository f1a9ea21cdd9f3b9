"""Demo data in bulk: executemany INSERTs in batches, ids assigned up front.

Used by ``quart --app quartblog seed`` and by the benchmark.  Posts get Markdown
bodies of a few paragraphs and ``tags_per_post`` tags out of a pool; comments,
follows and favorites are spread at random (reproducibly, by ``random_seed``).
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any, Iterable, Iterator

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from tqdm import tqdm

from ..types import MYSQL_DIALECTS
from ..models import Comment, Post, PostStatus, Role, Tag, User, favorites, follows, post_tags
from ..services.counts import recount
from ..services.users import hash_password
from ..types import utcnow

WORDS = (
    "async await quart python blog engine database index query migration schema "
    "session request response template render markdown comment tag author reader "
    "coffee river mountain garden winter summer light shadow window morning night "
    "story journey simple careful fast steady quiet bright open small large first "
    "last better deeper notes ideas lessons patterns errors tests speed cache pool"
).split()
TAG_WORDS = (
    "python asyncio quart sqlalchemy alembic mariadb sqlite postgres web api rest "
    "testing performance security markdown css html javascript devops linux cloud "
    "design ux writing travel food music books film photography science math "
    "history art games sport health family garden coffee tea cooking hiking cats "
    "dogs startups career open-source rust go"
).split()


def _sentence(rng: random.Random, lo: int = 6, hi: int = 16) -> str:
    words = rng.choices(WORDS, k=rng.randint(lo, hi))
    return " ".join(words).capitalize() + "."


def _body(rng: random.Random) -> str:
    paragraphs = []
    for i in range(rng.randint(3, 5)):
        text = " ".join(_sentence(rng) for _ in range(rng.randint(3, 6)))
        if i == 1:
            text += " Some **bold** words, some *emphasis* and `code`."
        paragraphs.append(text)
    paragraphs.insert(2, "## " + _sentence(rng, 2, 5).rstrip("."))
    paragraphs.append("- " + "\n- ".join(_sentence(rng, 3, 6) for _ in range(3)))
    return "\n\n".join(paragraphs)


def _batches(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _next_id(conn: AsyncConnection, column) -> int:
    return int(await conn.scalar(select(func.coalesce(func.max(column), 0)))) + 1


async def seed_database(engine: AsyncEngine, *, n_users: int = 50, n_posts: int = 500,
                        n_comments: int = 2000, n_tags: int = 50, tags_per_post: int = 3,
                        n_follows: int = 10, n_favorites: int = 20, password: str = "password123",
                        random_seed: int = 1, batch: int = 2000, quiet: bool = False) -> dict[str, int]:
    rng = random.Random(random_seed)
    password_hash = await hash_password(password)  # one hash for every demo user
    now = utcnow()
    counts: dict[str, int] = {}
    total = n_users + n_posts * (1 + tags_per_post) + n_comments + n_users * (n_follows + n_favorites)
    progress = tqdm(total=total, unit="row", disable=quiet, desc="seeding")

    async def bulk(conn: AsyncConnection, table: Table, rows: Iterable[dict[str, Any]], name: str) -> None:
        written = 0
        for chunk in _batches(rows, batch):
            await conn.execute(insert(table), chunk)
            written += len(chunk)
            progress.update(len(chunk))
        counts[name] = counts.get(name, 0) + written

    async with engine.begin() as conn:
        first_user = await _next_id(conn, User.id)
        first_post = await _next_id(conn, Post.id)
        first_tag = await _next_id(conn, Tag.id)
        existing_tags = set(await conn.scalars(select(Tag.name)))

        user_ids = list(range(first_user, first_user + n_users))
        await bulk(conn, User.__table__, (
            {
                "id": uid, "username": f"user{uid}", "email": f"user{uid}@example.com",
                "password_hash": password_hash, "bio": _sentence(rng), "image": None,
                "role": (Role.ADMIN if uid == 1 else Role.AUTHOR).value,
                "created_at": now - timedelta(days=400),
            } for uid in user_ids
        ), "users")

        names = [n for n in (TAG_WORDS + [f"topic-{i}" for i in range(n_tags)]) if n not in existing_tags][:n_tags]
        tag_ids = list(range(first_tag, first_tag + len(names)))
        if names:
            await conn.execute(insert(Tag.__table__), [{"id": i, "name": n} for i, n in zip(tag_ids, names)])
        counts["tags"] = len(names)

        post_ids = list(range(first_post, first_post + n_posts))
        span = timedelta(days=365)
        step = span / max(n_posts, 1)

        def post_rows() -> Iterator[dict[str, Any]]:
            for k, pid in enumerate(post_ids):
                title = _sentence(rng, 3, 8).rstrip(".")
                created = now - span + step * k
                yield {
                    "id": pid, "slug": f"{'-'.join(title.lower().split()[:6])}-{pid}",
                    "title": title, "description": _sentence(rng, 8, 14), "body": _body(rng),
                    "created_at": created, "updated_at": created,
                    "author_id": rng.choice(user_ids) if user_ids else 1, "view_count": 0,
                    "status": PostStatus.PUBLISHED.value, "published_at": created,
                }

        if user_ids or n_posts == 0:
            await bulk(conn, Post.__table__, post_rows(), "posts")
            if tag_ids:
                await bulk(conn, post_tags, (
                    {"post_id": pid, "tag_id": tid}
                    for pid in post_ids
                    for tid in rng.sample(tag_ids, min(tags_per_post, len(tag_ids)))
                ), "post tags")

        if post_ids and user_ids:
            await bulk(conn, Comment.__table__, (
                {
                    "body": _sentence(rng, 5, 25), "post_id": pid, "author_id": rng.choice(user_ids),
                    "created_at": (created := now - timedelta(minutes=rng.randint(1, 500_000))),
                    "updated_at": created,
                }
                for pid in (rng.choice(post_ids) for _ in range(n_comments))
            ), "comments")

            def pairs(per_user: int, targets: list[int], skip_self: bool) -> Iterator[tuple[int, int]]:
                for uid in user_ids:
                    pool = [t for t in rng.sample(targets, min(per_user + 1, len(targets)))
                            if not (skip_self and t == uid)][:per_user]
                    yield from ((uid, t) for t in pool)

            await bulk(conn, follows, (
                {"follower_id": a, "followed_id": b, "created_at": now}
                for a, b in pairs(n_follows, user_ids, True)
            ), "follows")
            await bulk(conn, favorites, (
                {"user_id": a, "post_id": b, "created_at": now}
                for a, b in pairs(n_favorites, post_ids, False)
            ), "favorites")
        await recount(conn)  # the kept post counts (services/counts.py)
        if conn.dialect.name == "postgresql":
            # ids were given explicitly: move the sequences past them
            for table in ("users", "tags", "posts", "comments"):
                await conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"))
    progress.close()
    await _analyze(engine)
    return counts


async def _analyze(engine: AsyncEngine) -> None:
    """Fresh planner statistics after a bulk load (and PostgreSQL's visibility map, for
    index-only scans): without them the first plans are made for empty tables."""
    tables = ("users", "tags", "posts", "post_tags", "comments", "follows", "favorites",
              "counters", "tag_counts")
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")  # VACUUM: no transaction
        if conn.dialect.name == "postgresql":
            await conn.execute(text("VACUUM ANALYZE " + ", ".join(tables)))
        elif conn.dialect.name in MYSQL_DIALECTS:
            await conn.execute(text("ANALYZE TABLE " + ", ".join(tables)))
        else:
            await conn.execute(text("ANALYZE"))
