"""Deleting an account deletes its uploaded images: the rows with the deletion, the
files only once it is committed (a refused or rolled-back deletion keeps them).  Kept
posts keep the images uploaded for them; an image someone else uploaded too stays."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from quartblog.models import Upload, User
from quartblog.services import admin, audit
from quartblog.services.errors import ValidationFailed
from tests import images

from ..api.conftest import PASSWORD
from .conftest import Browser
from .test_uploads import send, stored_files


@pytest.fixture(autouse=True)
def media_dir(app_config, tmp_path) -> Path:
    app_config["MEDIA_DIR"] = str(tmp_path / "media")
    return tmp_path / "media"


def _name(url: str) -> str:
    return url.rsplit("/", 1)[1]


async def _upload_post_image(browser: Browser, data: bytes) -> str:
    await browser.get("/write")
    response = await send(browser, "/uploads", data)
    assert response.status_code == 201
    return (await response.get_json())["upload"]["url"]


async def _upload_avatar(browser: Browser, data: bytes) -> None:
    await browser.get("/settings")
    response = await browser.client.post("/settings/avatar", files=images.upload(data),
                                         form={"csrf_token": await browser.token()})
    assert response.status_code == 303


@pytest.fixture
async def ada_images(as_user, people):
    """ada wrote a post with her image, and has an avatar; otto uploaded an image that
    ada also uploaded (the same bytes: one file, two rows)."""
    ada, otto = await as_user("author"), await as_user("other")
    picture, shared = images.png(60, 40), images.png(30, 30)
    url = await _upload_post_image(ada, picture)
    shared_url = await _upload_post_image(ada, shared)
    assert await _upload_post_image(otto, shared) == shared_url
    await _upload_avatar(ada, images.png(80, 80, mode="RGB"))
    created = await ada.post("/write", {"title": "With a picture", "body": f"Look:\n\n![]({url})"})
    assert created.status == 303
    return {"ada": ada, "post": _name(url), "shared": _name(shared_url)}


async def _rows(db_session) -> list[tuple[str, str, str]]:
    await db_session.rollback()
    return sorted((await db_session.execute(
        select(User.username, Upload.purpose, Upload.name).join(User, User.id == Upload.user_id))).all())


@pytest.mark.parametrize("how", ["admin on the site", "admin in the API", "herself"])
async def test_deleting_an_account_with_its_posts_deletes_its_images(how, ada_images, as_user, client,
                                                                   media_dir, db_session):
    assert len(stored_files(media_dir)) == 3
    if how == "admin on the site":
        page = await (await as_user("admin")).post("/admin/users/ada/delete", {"posts": "delete"})
    elif how == "herself":
        page = await ada_images["ada"].post("/settings/delete", {"posts": "delete", "delete_password": PASSWORD})
    else:
        login = await client.post("/api/users/login", json={"user": {"email": "root@example.com",
                                                                      "password": PASSWORD}})
        token = (await login.get_json())["user"]["token"]
        response = await client.delete("/api/admin/users/ada?posts=delete", headers={"Authorization": f"Token {token}"})
        assert response.status_code == 204
        page = None
    assert page is None or page.status == 303
    assert stored_files(media_dir) == [ada_images["shared"]]  # otto's upload of it stays
    assert await _rows(db_session) == [("otto", "post", ada_images["shared"])]
    assert (await client.get(f"/media/{ada_images['post']}")).status_code == 404


async def test_kept_posts_keep_their_images_and_the_avatar_goes(ada_images, as_user, client, media_dir, db_session):
    page = await (await as_user("admin")).post("/admin/users/ada/delete", {"posts": "keep"})
    assert page.status == 303
    assert sorted(stored_files(media_dir)) == sorted([ada_images["post"], ada_images["shared"]])
    assert await _rows(db_session) == sorted([("deleted-user", "post", ada_images["post"]),
                                              ("deleted-user", "post", ada_images["shared"]),
                                              ("otto", "post", ada_images["shared"])])
    post = await (await as_user(None)).get("/posts/with-a-picture")
    assert post.status == 200 and ada_images["post"] in post.text and "deleted-user" in post.text
    assert (await client.get(f"/media/{ada_images['post']}")).status_code == 200


async def test_a_deletion_refused_after_the_images_were_deleted_keeps_every_file(ada_images, as_user, media_dir,
                                                                                 db_session, monkeypatch):
    """The audit row comes last: refusing there rolls back rows that were already
    deleted in the transaction, and the files, never removed, are all still there."""
    files, rows = stored_files(media_dir), await _rows(db_session)

    async def refuse(*args, **kwargs):
        raise ValidationFailed.one("username", "refused at the last moment")

    monkeypatch.setattr(audit, "record", refuse)
    page = await (await as_user("admin")).post("/admin/users/ada/delete", {"posts": "delete"}, follow=True)
    assert "refused at the last moment" in page.text
    assert stored_files(media_dir) == files and len(files) == 3
    assert await _rows(db_session) == rows


async def test_files_go_only_when_the_services_caller_commits(ada_images, app, media_dir, db_session):
    from quartblog import db
    from quartblog.web.media import get_storage

    files = stored_files(media_dir)
    root = await db_session.scalar(select(User).where(User.username == "root"))
    async with app.app_context():
        await admin.delete_user(db_session, root, "ada", "delete", storage=get_storage(app))
        assert await db_session.scalar(select(Upload.id).where(Upload.name == ada_images["post"])) is None
        await db_session.rollback()
        await db.run_after_commit(db_session)
        assert stored_files(media_dir) == files
        root = await db_session.scalar(select(User).where(User.username == "root"))
        await admin.delete_user(db_session, root, "ada", "delete", storage=get_storage(app))
        assert stored_files(media_dir) == files  # not before the commit
        await db_session.commit()
        await db.run_after_commit(db_session)
        assert stored_files(media_dir) == [ada_images["shared"]]
