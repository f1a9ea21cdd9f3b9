"""The two releases of the live-migration test, as hypercorn serves them:

* ``hypercorn tests.live_migration.releases:release1`` -- the OLD release: quartblog
  as it is, plus writing ``comments.chars`` (the legacy column) with each new comment;
* ``hypercorn tests.live_migration.releases:release2`` -- the NEW release: quartblog
  plus writing ``comments.body_chars`` instead.  It never touches ``chars``, which
  the contract step drops.

Each writes its column with a Core UPDATE in the comment's own transaction (a mapper
``after_insert`` event), so a comment acknowledged by either release has its value.
"""

from __future__ import annotations

from sqlalchemy import Integer, column, event, table, update

from quartblog import LazyApp, create_app
from quartblog.models import Comment

comments = table("comments", column("id", Integer), column("chars", Integer), column("body_chars", Integer))


def _writing(column_name: str) -> None:
    target_column = comments.c[column_name]

    @event.listens_for(Comment, "after_insert")
    def _write_length(mapper, connection, target: Comment) -> None:
        connection.execute(update(comments).where(comments.c.id == target.id)
                           .values({target_column: len(target.body)}))


def old_release():
    _writing("chars")
    return create_app()


def new_release():
    _writing("body_chars")
    return create_app()


class Release(LazyApp):
    def __init__(self, factory) -> None:
        super().__init__()
        self._factory = factory

    def get(self):
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = self._factory()
        return self._app


release1 = Release(old_release)
release2 = Release(new_release)
