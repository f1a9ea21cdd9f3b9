"""The data layer: sessions per request, schema behaviour, and the shared services."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from quart import Blueprint, abort
from sqlalchemy import func, select
from sqlalchemy.exc import InvalidRequestError

from quartblog.db import get_session
from quartblog.models import Comment, Post, Role, Tag, User
from quartblog.services import comments, posts, tags, users
from quartblog.services.errors import NotFound, PermissionDenied, ValidationFailed

from .factories import PASSWORD, make_post, make_user


# --- one session per request ------------------------------------------------------

@pytest.fixture
def app_with_probe_routes(app):
    probe = Blueprint("probe", __name__)

    async def add_user(name: str) -> None:
        await users.register(get_session(), username=name, email=f"{name}@example.com", password=PASSWORD)

    @probe.post("/_probe/ok/<name>")
    async def ok(name):
        await add_user(name)
        return "created", 201

    @probe.post("/_probe/crash/<name>")
    async def crash(name):
        await add_user(name)
        raise RuntimeError("boom after a write")

    @probe.post("/_probe/refuse/<name>")
    async def refuse(name):
        await add_user(name)
        abort(409)

    app.register_blueprint(probe)
    return app


async def user_count(db_session) -> int:
    return await db_session.scalar(select(func.count(User.id)))


async def test_a_successful_request_commits_its_changes(app_with_probe_routes, db_session):
    response = await app_with_probe_routes.test_client().post("/_probe/ok/ada")
    assert response.status_code == 201
    assert await user_count(db_session) == 1


async def test_an_exception_rolls_back_and_answers_500_without_details(app_with_probe_routes, db_session):
    response = await app_with_probe_routes.test_client().post("/_probe/crash/ada")
    assert response.status_code == 500
    assert "boom" not in await response.get_data(as_text=True)
    assert await user_count(db_session) == 0


async def test_an_error_response_rolls_back(app_with_probe_routes, db_session):
    response = await app_with_probe_routes.test_client().post("/_probe/refuse/ada")
    assert response.status_code == 409
    assert await user_count(db_session) == 0


# --- schema behaviour ------------------------------------------------------------------

async def test_timestamps_are_aware_utc_with_microseconds(app, db_session):
    author = await make_user(db_session, "ada")
    moment = datetime(2026, 11, 24, 7, 6, 28, 123456, tzinfo=timezone.utc)
    post = await db_session.get(Post, (await make_post(db_session, author, "Timing")).post.id)
    post.created_at = moment
    await db_session.commit()
    db_session.expunge_all()
    stored = await db_session.scalar(select(Post.created_at).where(Post.id == post.id))
    assert stored == moment and stored.tzinfo is not None and stored.microsecond == 123456


async def test_chinese_text_and_emoji_round_trip(app, db_session):
    author = await make_user(db_session, "李雷")
    view = await make_post(db_session, author, "你好，世界 🌏", body="正文 **加粗** 😀🎉", tags=["中文", "🐍"])
    db_session.expunge_all()
    again = await posts.get_post_view(db_session, view.post.slug)
    assert again.post.title == "你好，世界 🌏"
    assert again.post.body == "正文 **加粗** 😀🎉"
    assert again.author.username == "李雷"
    assert again.tags == sorted(["中文", "🐍"])
    assert again.post.slug == "ni-hao-shi-jie"


async def test_deleting_a_post_deletes_its_comments_and_tag_links(app, db_session):
    ada = await make_user(db_session, "ada")
    view = await make_post(db_session, ada, "Doomed", tags=["x"])
    await comments.add_comment(db_session, ada, view.post.slug, "first!")
    await db_session.commit()
    await posts.delete_post(db_session, ada, view.post.slug)
    await db_session.commit()
    assert await db_session.scalar(select(func.count(Comment.id))) == 0
    assert await tags.all_tag_names(db_session) == []
    assert await db_session.scalar(select(func.count(Tag.id))) == 1  # the tag itself stays


async def test_relationships_never_load_lazily(app, db_session):
    ada = await make_user(db_session, "ada")
    await make_post(db_session, ada, "Lazy?")
    db_session.expunge_all()
    post = await db_session.scalar(select(Post))
    with pytest.raises(InvalidRequestError):
        post.author  # noqa: B018
    with pytest.raises(InvalidRequestError):
        post.tags  # noqa: B018


# --- services shared by the site and the API ----------------------------------------------

async def test_register_and_authenticate(app, db_session):
    await users.register(db_session, username="ada", email="Ada@Example.com", password=PASSWORD)
    await db_session.commit()
    assert (await users.authenticate(db_session, "ada@example.com", PASSWORD)).username == "ada"
    assert await users.authenticate(db_session, "ada@example.com", "wrong password") is None
    assert await users.authenticate(db_session, "nobody@example.com", PASSWORD) is None
    stored = await db_session.scalar(select(User.password_hash))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


async def test_register_refuses_taken_names_regardless_of_case_and_bad_input(app, db_session):
    await make_user(db_session, "ada")
    with pytest.raises(ValidationFailed) as taken:
        await users.register(db_session, username="ADA", email="ADA@example.com", password=PASSWORD)
    assert taken.value.errors == {"username": ["has already been taken"], "email": ["has already been taken"]}
    with pytest.raises(ValidationFailed) as bad:
        await users.register(db_session, username="", email="not-an-email", password="short")
    assert set(bad.value.errors) == {"username", "email", "password"}


async def test_slugs_stay_unique_and_survive_title_edits(app, db_session):
    ada = await make_user(db_session, "ada")
    first = await make_post(db_session, ada, "Same Title")
    second = await make_post(db_session, ada, "Same title!")
    assert (first.post.slug, second.post.slug) == ("same-title", "same-title-2")
    edited = await posts.update_post(db_session, ada, "same-title", title="A new title")
    assert edited.post.slug == "same-title" and edited.post.title == "A new title"


async def test_only_the_author_or_an_admin_may_change_a_post(app, db_session):
    ada = await make_user(db_session, "ada")
    bob = await make_user(db_session, "bob")
    root = await make_user(db_session, "root", Role.ADMIN)
    reader = await make_user(db_session, "reader", Role.READER)
    view = await make_post(db_session, ada, "Mine")
    with pytest.raises(PermissionDenied):
        await posts.update_post(db_session, bob, view.post.slug, body="hijacked")
    with pytest.raises(PermissionDenied):
        await posts.create_post(db_session, reader, title="t", description="d", body="b")
    await posts.update_post(db_session, root, view.post.slug, body="moderated")
    with pytest.raises(NotFound):
        await posts.delete_post(db_session, ada, "no-such-post")


async def test_post_lists_filter_and_count(app, db_session):
    ada = await make_user(db_session, "ada")
    bob = await make_user(db_session, "bob")
    for i in range(3):
        await make_post(db_session, ada, f"Ada {i}", tags=["python"])
    await make_post(db_session, bob, "Bob's", tags=["go", "Python"])
    await posts.favorite(db_session, bob, "ada-1")
    await users.follow(db_session, bob, "ada")
    await db_session.commit()

    everything = await posts.list_posts(db_session, limit=2)
    assert everything.total == 4 and [v.post.title for v in everything.items] == ["Bob's", "Ada 2"]
    assert (await posts.list_posts(db_session, posts.PostFilter(tag="python"))).total == 4
    assert (await posts.list_posts(db_session, posts.PostFilter(author="bob"))).items[0].tags == ["go", "python"]
    favorited = await posts.list_posts(db_session, posts.PostFilter(favorited_by="bob"), viewer_id=bob.id)
    assert [(v.post.slug, v.favorited, v.favorites_count) for v in favorited.items] == [("ada-1", True, 1)]
    feed = await posts.list_posts(db_session, posts.PostFilter(feed_of=bob.id), viewer_id=bob.id)
    assert feed.total == 3 and all(v.following_author for v in feed.items)
    assert (await posts.list_posts(db_session, posts.PostFilter(search="bob"))).total == 1
    with pytest.raises(ValidationFailed):
        await posts.list_posts(db_session, limit=0)


async def test_a_post_list_runs_the_same_statements_for_one_post_or_twenty(app, db_session, count_statements):
    ada = await make_user(db_session, "ada")
    bob = await make_user(db_session, "bob")
    await users.follow(db_session, bob, "ada")
    for i in range(20):
        view = await make_post(db_session, ada, f"Post {i}", tags=["a", "b", f"t{i}"])
        await comments.add_comment(db_session, bob, view.post.slug, "hi")
        await posts.favorite(db_session, bob, view.post.slug)
    await db_session.commit()
    counts = []
    for limit in (1, 20):
        with count_statements() as counter:
            page = await posts.list_posts(db_session, limit=limit, viewer_id=bob.id)
            for view in page.items:  # everything a page shows is already loaded
                (view.author.username, view.tags, view.comments_count, view.favorited, view.summary)
        counts.append(counter.count)
    assert counts == [2, 2]  # the page (ids and total), its views


async def test_the_sidebar_has_the_newest_posts_and_most_used_tags_in_one_statement(app, db_session, count_statements):
    from quartblog.services.sidebar import load_sidebar

    ada = await make_user(db_session, "ada")
    for i in range(7):
        await make_post(db_session, ada, f"Post {i}", tags=["common"] + (["odd"] if i % 2 else []) + [f"only{i}"])
    with count_statements() as counter:
        sidebar = await load_sidebar(db_session, 5)
    assert counter.count == 1
    assert [title for _, title in sidebar.recent] == ["Post 6", "Post 5", "Post 4", "Post 3", "Post 2"]
    assert sidebar.popular[:2] == [("common", 7), ("odd", 3)]
    assert sidebar.popular[2:] == [("only0", 1), ("only1", 1), ("only2", 1)]


async def test_a_post_titled_feed_gets_a_slug_the_feed_route_does_not_shadow(app, db_session):
    ada = await make_user(db_session, "ada")
    assert (await make_post(db_session, ada, "Feed")).post.slug == "feed-2"


async def test_tags_cannot_contain_a_slash(app, db_session):
    ada = await make_user(db_session, "ada")
    with pytest.raises(ValidationFailed) as invalid:
        await posts.create_post(db_session, ada, title="t", description="d", body="b", tags=["a/b"])
    assert invalid.value.errors == {"tagList": ["a tag cannot contain '/'"]}


# --- publishing and unpublishing many posts at once (the admin's bulk actions) ----------

async def test_set_status_many_publishes_and_unpublishes_as_one_post_would(db_session):
    from datetime import timedelta

    from quartblog.models import PostStatus
    from quartblog.types import utcnow

    ada = await make_user(db_session, "ada")
    out = await make_post(db_session, ada, "Out already")
    draft = await posts.create_post(db_session, ada, title="A draft", description=None, body="b", status="draft")
    later = await posts.create_post(db_session, ada, title="Later", description=None, body="b",
                                    status="scheduled", publish_at=utcnow() + timedelta(days=3))
    await db_session.commit()
    out_time = out.post.published_at
    ids = [out.post.id, draft.post.id, later.post.id, 2**31 - 1]  # an id no post has is ignored

    async def stored():
        await db_session.commit()
        rows = await db_session.execute(select(Post.slug, Post.status, Post.published_at).order_by(Post.id))
        return {slug: (PostStatus(status).value, at) for slug, status, at in rows}

    before = utcnow()
    assert await posts.set_status_many(db_session, ids, PostStatus.PUBLISHED) == 2  # the draft and the scheduled one
    now = await stored()
    assert now["out-already"] == ("published", out_time)  # out already: keeps its time
    for slug in ("a-draft", "later"):
        status, at = now[slug]
        assert status == "published" and before <= at <= utcnow()  # public now
    page = await posts.list_posts(db_session)
    assert [view.post.slug for view in page.items] == ["later", "a-draft", "out-already"]

    assert await posts.set_status_many(db_session, ids + ids, PostStatus.DRAFT) == 3
    assert await stored() == {slug: ("draft", None) for slug in ("out-already", "a-draft", "later")}
    assert (await posts.list_posts(db_session)).total == 0
    assert await posts.set_status_many(db_session, ids, PostStatus.DRAFT) == 0  # nothing left to change
    assert await posts.set_status_many(db_session, [], PostStatus.PUBLISHED) == 0
