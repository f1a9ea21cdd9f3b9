"""pt-osc scenario, EXPAND (data): ``posts.reading_minutes`` in batches (``update_in_batches``),
``backfill_runs + 1`` in the same UPDATE.  ``OSC_PAUSE_AT_BATCH=n`` prints ``PAUSED <progress>``
inside the n-th batch (its UPDATE done, not committed) and waits on standard input: the test
kills the process there (SIGKILL) while the load runs, then runs the same command again.
"""

import os
import sys

import sqlalchemy as sa

from quartblog.migrations.batches import update_in_batches

revision = "osc_backfill"
down_revision = "osc_columns"
branch_labels = None
depends_on = None

posts = sa.table("posts", sa.column("id", sa.Integer()), sa.column("body", sa.Text()),
                 sa.column("reading_minutes", sa.Integer()), sa.column("backfill_runs", sa.Integer()))


def compute(rows):
    return [{"id": row.id, "reading_minutes": max(1, -(-len(row.body.split()) // 200))} for row in rows]


def pause_at(batch: int):
    def before_commit(progress) -> None:
        if progress.batches + 1 == batch:
            print(f"PAUSED {progress.line()}", flush=True)
            sys.stdin.readline()  # the test kills the process here
    return before_commit


def upgrade() -> None:
    options = {}
    if os.environ.get("OSC_PAUSE_AT_BATCH"):
        options["before_commit"] = pause_at(int(os.environ["OSC_PAUSE_AT_BATCH"]))
    update_in_batches(posts, todo=posts.c.reading_minutes.is_(None), columns=[posts.c.body], compute=compute,
                      values={"backfill_runs": posts.c.backfill_runs + 1}, label="osc_backfill reading_minutes",
                      batch_size=int(os.environ.get("OSC_BATCH_SIZE", "1000")), report_every=0, **options)


def downgrade() -> None:
    update_in_batches(posts, todo=posts.c.reading_minutes.is_not(None),
                      values={"reading_minutes": None, "backfill_runs": 0}, label="osc_backfill undo")
