"""The few places quartblog leans on a library's internals, where no public API does the
job, each checked here against the version it was written for.  An upgrade that changes
one fails this file with the place to look at, before anything subtler breaks.

* alembic: offline SQLite rendering (``quartblog/migrations/offline.py``) hands batch
  mode the table from its shadow database through ``BatchOperationsImpl.flush``,
  ``_should_recreate`` and ``copy_from`` (Alembic's public way, ``copy_from=`` in each
  revision, would make every revision carry its table), and renders ``base..start``
  with ``ScriptDirectory._upgrade_revs``.
* quart: the unit of work (``web/unit_of_work.py``) overrides ``full_dispatch_request``
  and calls ``finalize_request(..., from_error_handler=True)``, and reads
  ``quart.globals.request_ctx``.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version

WRITTEN_FOR = {"alembic": "1.20", "quart": "0.22"}


def _message(library: str, what: str) -> str:
    return (f"{library} {version(library)} changed {what} (written for {WRITTEN_FOR[library]}): "
            "see tests/test_library_internals.py for the place in quartblog that uses it")


def test_alembic_batch_internals_used_by_offline_sqlite_rendering():
    from alembic.operations.batch import BatchOperationsImpl
    from alembic.script import ScriptDirectory

    assert callable(getattr(BatchOperationsImpl, "flush", None)), _message("alembic", "BatchOperationsImpl.flush")
    assert callable(getattr(BatchOperationsImpl, "_should_recreate", None)), \
        _message("alembic", "BatchOperationsImpl._should_recreate")
    init = inspect.signature(BatchOperationsImpl.__init__).parameters
    assert {"copy_from", "reflect_args", "reflect_kwargs"} <= set(init), _message("alembic", "BatchOperationsImpl's arguments")
    upgrade_revs = inspect.signature(ScriptDirectory._upgrade_revs).parameters
    assert list(upgrade_revs)[1:3] == ["destination", "current_rev"], _message("alembic", "ScriptDirectory._upgrade_revs")


def test_quart_dispatch_internals_used_by_the_unit_of_work():
    from quart import Quart
    from quart.globals import request_ctx  # noqa: F401

    assert "request_context" in inspect.signature(Quart.full_dispatch_request).parameters, \
        _message("quart", "Quart.full_dispatch_request")
    assert "from_error_handler" in inspect.signature(Quart.finalize_request).parameters, \
        _message("quart", "Quart.finalize_request")
