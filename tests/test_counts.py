"""Post counts kept on write (services/counts.py): lists, tag pages, the sidebar and
/api/tags read them, so every kind of write must leave them equal to a recount."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from quartblog.web.media import get_storage
from quartblog.models import Counter, Post, Role, Tag, TagCount
from quartblog.services import admin, counts, posts
from quartblog.services.posts import PostFilter
from quartblog.services.sidebar import load_sidebar
from quartblog.services.tags import all_tag_names
from quartblog.types import utcnow

from .factories import PASSWORD, make_post, make_user


async def totals(session) -> tuple[int, dict[str, int]]:
    """What readers see: the home list's total, and each tag page's."""
    home = (await posts.list_posts(session, limit=1)).total
    names = list(await session.scalars(select(Tag.name)))
    return home, {name: (await posts.list_posts(session, PostFilter(tag=name), limit=1)).total
                  for name in names}


async def assert_exact(session) -> None:
    await session.commit()
    assert await counts.drift(session) == {}


@pytest.fixture
async def ada(db_session):
    return await make_user(db_session, "ada")


async def test_writing_publishing_and_deleting_posts_keeps_every_count_exact(db_session, ada):
    one = await make_post(db_session, ada, "One", tags=["python", "async"])
    await make_post(db_session, ada, "Two", tags=["python"])
    draft = await posts.create_post(db_session, ada, title="Draft", description=None, body="x",
                                    tags=["python", "secret"], status="draft")
    await assert_exact(db_session)
    assert await totals(db_session) == (2, {"python": 2, "async": 1, "secret": 0})

    await posts.update_post(db_session, ada, draft.post.slug, status="published")
    await assert_exact(db_session)
    assert await totals(db_session) == (3, {"python": 3, "async": 1, "secret": 1})

    await posts.update_post(db_session, ada, one.post.slug, tags=["async", "new"])
    await assert_exact(db_session)
    assert await totals(db_session) == (3, {"python": 2, "async": 1, "secret": 1, "new": 1})

    await posts.update_post(db_session, ada, one.post.slug, title="One, renamed")  # counts untouched
    await posts.update_post(db_session, ada, one.post.slug, status="draft")
    await assert_exact(db_session)
    assert await totals(db_session) == (2, {"python": 2, "async": 0, "secret": 1, "new": 0})

    await posts.delete_post(db_session, ada, draft.post.slug)
    await assert_exact(db_session)
    assert await totals(db_session) == (1, {"python": 1, "async": 0, "secret": 0, "new": 0})


async def test_a_scheduled_post_is_counted_the_moment_its_time_comes(db_session, ada):
    await make_post(db_session, ada, "Out", tags=["news"])
    later = await posts.create_post(db_session, ada, title="Later", description=None, body="x",
                                    tags=["news", "launch"], status="scheduled",
                                    publish_at=utcnow() + timedelta(days=1))
    await assert_exact(db_session)
    assert await totals(db_session) == (1, {"news": 1, "launch": 0})
    sidebar = await load_sidebar(db_session)
    assert sidebar.popular == [("news", 1)]  # "launch" is not out yet
    assert await all_tag_names(db_session) == ["news"]

    # Its time comes: nothing is written, and every list shows it.
    await db_session.execute(update(Post).where(Post.id == later.post.id)
                             .values(published_at=utcnow() - timedelta(seconds=1)))
    await db_session.commit()
    assert await totals(db_session) == (2, {"news": 2, "launch": 1})
    assert (await load_sidebar(db_session)).popular == [("news", 2), ("launch", 1)]
    assert await all_tag_names(db_session) == ["news", "launch"]


async def test_admin_bulk_actions_tag_merge_and_account_deletion_keep_counts_exact(app, db_session, ada):
    root = await make_user(db_session, "root", Role.ADMIN)
    bob = await make_user(db_session, "bob")
    views = [await make_post(db_session, ada, f"Ada {i}", tags=["py", "web" if i % 2 else "db"])
             for i in range(4)]
    for i in range(3):
        await make_post(db_session, bob, f"Bob {i}", tags=["py", "python"])
    await assert_exact(db_session)

    await admin.bulk_posts(db_session, root, "delete", [views[0].post.id, views[1].post.id])
    await assert_exact(db_session)
    assert await totals(db_session) == (5, {"py": 5, "web": 1, "db": 1, "python": 3})

    drafts = [await posts.create_post(db_session, bob, title=f"Draft {i}", description=None, body="x",
                                      tags=["py", "later"], status="draft") for i in range(2)]
    draft_ids = [view.post.id for view in drafts]
    await admin.bulk_posts(db_session, root, "publish", [*draft_ids, views[2].post.id])
    await assert_exact(db_session)
    assert await totals(db_session) == (7, {"py": 7, "web": 1, "db": 1, "python": 3, "later": 2})
    await admin.bulk_posts(db_session, root, "unpublish", draft_ids)
    await assert_exact(db_session)
    assert await totals(db_session) == (5, {"py": 5, "web": 1, "db": 1, "python": 3, "later": 0})

    await admin.merge_tags(db_session, root, "python", "py")  # bob's posts had both
    await assert_exact(db_session)
    assert await totals(db_session) == (5, {"py": 5, "web": 1, "db": 1, "later": 0})

    await admin.delete_user(db_session, root, "bob", "delete", storage=get_storage(app))
    await assert_exact(db_session)
    assert await totals(db_session) == (2, {"py": 2, "web": 1, "db": 1, "later": 0})

    await admin.delete_own_account(db_session, ada, PASSWORD, "keep", storage=get_storage(app))  # posts stay, by "deleted"
    await assert_exact(db_session)
    assert (await totals(db_session))[0] == 2


async def test_recount_mends_numbers_written_around_the_services(db_session, ada):
    await make_post(db_session, ada, "One", tags=["a"])
    await db_session.execute(update(TagCount).values(posts=40))
    await db_session.execute(update(Counter).values(value=7))
    await db_session.commit()
    assert set(await counts.drift(db_session)) == {"published_posts", "tag:a"}
    await counts.recount(db_session)
    await assert_exact(db_session)
    assert await totals(db_session) == (1, {"a": 1})
