"""demo: fill posts.reading_minutes in batches (data only)

Python mode (default): a post's reading time is its words / 200, rounded up, at least 1.
SQL mode (``DEMO_BATCH_MODE=sql``): the database computes characters / 1000 + 1.
Either way ``backfill_runs`` is incremented in the same UPDATE.

Revision ID: demo_002
Revises: demo_001
Create Date: 2026-11-25 15:41:00

"""
import os
import sys

import sqlalchemy as sa

from quartblog.migrations.batches import update_in_batches

revision = "demo_002"
down_revision = "demo_001"
branch_labels = None
depends_on = None

posts = sa.table("posts", sa.column("id", sa.Integer()), sa.column("body", sa.Text()),
                 sa.column("reading_minutes", sa.Integer()), sa.column("backfill_runs", sa.Integer()))


def reading_minutes(body: str) -> int:
    return max(1, -(-len(body.split()) // 200))


def compute(rows):
    return [{"id": row.id, "reading_minutes": reading_minutes(row.body)} for row in rows]


def pause_at(batch: int):
    def before_commit(progress) -> None:
        if progress.batches + 1 == batch:
            print(f"PAUSED {progress.line()}", flush=True)
            sys.stdin.readline()  # the test kills the process here
    return before_commit


def upgrade() -> None:
    todo = posts.c.reading_minutes.is_(None)
    counter = {"backfill_runs": posts.c.backfill_runs + 1}
    options = dict(batch_size=int(os.environ.get("DEMO_BATCH_SIZE", "1000")),
                   report_every=float(os.environ.get("DEMO_REPORT_EVERY", "1")),
                   label="demo_002 reading_minutes")
    if os.environ.get("DEMO_PAUSE_AT_BATCH"):
        options["before_commit"] = pause_at(int(os.environ["DEMO_PAUSE_AT_BATCH"]))
    if os.environ.get("DEMO_BATCH_MODE", "python") == "sql":
        update_in_batches(posts, todo=todo, values={**counter, "reading_minutes": sa.func.length(posts.c.body) // 1000 + 1},
                          **options)
    else:
        update_in_batches(posts, todo=todo, columns=[posts.c.body], compute=compute, values=counter, **options)


def downgrade() -> None:
    update_in_batches(posts, todo=posts.c.reading_minutes.is_not(None),
                      values={"reading_minutes": None, "backfill_runs": 0}, label="demo_002 undo")
