"""What ``alembic revision --autogenerate`` (and ``quart db migrate``) writes, beyond
Alembic's defaults: tables dropped with their indexes, and columns and indexes of
existing tables changed through the online helpers (``online.py``).  env.py passes
``write_revision`` as ``process_revision_directives``."""

from __future__ import annotations

from .online import use_online_ddl


def write_revision(context, revision, directives) -> None:
    """What autogenerate writes: tables dropped with their indexes, and columns and
    indexes of existing tables changed with the online helpers (online.py)."""
    drop_tables_with_their_indexes(context, revision, directives)
    for script in directives:
        for container in [*script.upgrade_ops_list, *script.downgrade_ops_list]:
            use_online_ddl(container)


def drop_tables_with_their_indexes(context, revision, directives) -> None:
    """Autogenerate writes ``drop_index`` for each index of a table before its
    ``drop_table``; MySQL/MariaDB refuse to drop an index a foreign key needs ("Cannot
    drop index ... needed in a foreign key constraint"), so the downgrade of a new
    model would fail there.  Dropping the table drops its indexes: leave them out."""
    from alembic.operations import ops

    for script in directives:
        for container in [*script.upgrade_ops_list, *script.downgrade_ops_list]:
            dropped = {op.table_name for op in container.ops if isinstance(op, ops.DropTableOp)}
            kept = []
            for op in container.ops:
                if isinstance(op, ops.ModifyTableOps) and op.table_name in dropped:
                    op.ops = [o for o in op.ops if not isinstance(o, ops.DropIndexOp)]
                    if not op.ops:
                        continue
                elif isinstance(op, ops.DropIndexOp) and op.table_name in dropped:
                    continue
                kept.append(op)
            container.ops = kept
