"""Images on the site: the editor's uploads (JSON for upload.js) and avatars from the settings page."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from quartblog.models import Upload, User
from tests import images

from .conftest import Browser


@pytest.fixture(autouse=True)
def media_dir(app_config, tmp_path) -> Path:
    app_config["MEDIA_DIR"] = str(tmp_path / "media")
    return tmp_path / "media"


def stored_files(media_dir: Path) -> list[str]:
    return sorted(p.name for p in media_dir.iterdir()) if media_dir.exists() else []


async def send(browser: Browser, url: str, data: bytes, filename: str = "photo.jpg", *,
               csrf: bool = True, headers: dict | None = None):
    """What upload.js does: the file, the CSRF token in a header, JSON wanted."""
    sent = {"Accept": "application/json", **(headers or {})}
    if csrf:
        sent["X-CSRF-Token"] = await browser.token()
    return await browser.client.post(url, files=images.upload(data, filename), headers=sent)


async def test_the_editor_has_the_upload_tools_and_its_script(as_user):
    author = await as_user("author")
    page = await author.get("/write")
    assert 'class="upload-tools" hidden' in page.text and 'data-upload-url="/uploads"' in page.text
    assert "/static/upload.js" in page.text and "Add an image" in page.text
    script = await author.client.get("/static/upload.js")
    assert script.status_code == 200 and "X-CSRF-Token" in await script.get_data(as_text=True)


async def test_an_author_uploads_from_the_editor_and_gets_markdown(as_user, media_dir):
    author = await as_user("author")
    await author.get("/write")
    response = await send(author, "/uploads", images.big_jpeg_with_gps(2400, 1200, orientation=1))
    assert response.status_code == 201
    upload = (await response.get_json())["upload"]
    assert upload["url"].startswith("http://localhost/media/")
    assert upload["markdown"] == f"![]({upload['url']})"
    assert len(stored_files(media_dir)) == 1

    created = await author.post("/write", {"title": "With a picture", "body": "Look:\n\n" + upload["markdown"]})
    post = await author.get(created.location)
    assert f'<img src="{upload["url"]}" alt="">' in post.text


@pytest.mark.parametrize("who, status", [(None, 401), ("reader", 403), ("author", 201), ("admin", 201)])
async def test_who_may_upload_post_images(as_user, media_dir, db_session, who, status):
    browser = await as_user(who)
    await browser.get("/login")  # a CSRF token, as any page gives one
    response = await send(browser, "/uploads", images.png(40, 40))
    assert response.status_code == status
    if status != 201:
        assert "errors" in await response.get_json()
        assert stored_files(media_dir) == []
        assert await db_session.scalar(select(func.count()).select_from(Upload)) == 0


async def test_an_upload_without_the_csrf_token_is_refused(as_user, media_dir):
    author = await as_user("author")
    response = await send(author, "/uploads", images.png(40, 40), csrf=False)
    assert response.status_code == 400
    assert stored_files(media_dir) == []


@pytest.mark.parametrize("label", ["renamed script", "svg with script", "truncated jpeg", "zero bytes"])
async def test_a_bad_file_gets_a_message_for_the_editor_and_leaves_nothing(as_user, media_dir, db_session, label):
    author = await as_user("author")
    filename, data = images.bad_files()[label]
    response = await send(author, "/uploads", data, filename)
    assert response.status_code == 422
    [message] = (await response.get_json())["errors"]["file"]
    assert message in ("The file is not a JPEG, PNG, GIF or WebP image.", "The image is damaged or incomplete.",
                       "The file is empty.")
    assert stored_files(media_dir) == []
    assert await db_session.scalar(select(func.count()).select_from(Upload)) == 0


async def test_the_editors_messages_are_in_the_pages_language(as_user):
    author = await as_user("author")
    await author.get("/language/zh-Hans")
    response = await send(author, "/uploads", images.PHP_SCRIPT, "x.jpg")
    assert (await response.get_json())["errors"]["file"] == ["这个文件不是 JPEG、PNG、GIF 或 WebP 图片。"]
    page = await author.get("/write")
    assert "添加图片" in page.text


async def test_too_big_for_the_editor_is_413_with_a_message(app, as_user, media_dir):
    app.config["UPLOAD_MAX_BYTES"] = 50_000
    author = await as_user("author")
    response = await send(author, "/uploads", b"\0" * 200_000)
    assert response.status_code == 413
    assert (await response.get_json())["errors"]["file"] == ["The file is larger than 0.0476837 MB."]
    assert stored_files(media_dir) == []


@pytest.mark.parametrize("who", ["reader", "author"])
async def test_anyone_signed_in_uploads_their_avatar(as_user, people, db_session, media_dir, who):
    browser = await as_user(who)
    settings = await browser.get("/settings")
    assert 'enctype="multipart/form-data"' in settings.text and "Upload a picture" in settings.text
    response = await browser.client.post("/settings/avatar", files=images.upload(images.big_jpeg_with_gps()),
                                         form={"csrf_token": await browser.token()})
    assert response.status_code == 303
    page = await browser.get("/settings")
    assert "Your new picture is saved." in page.text

    user = await db_session.get(User, people[who].id, populate_existing=True)
    assert user.image.startswith("http://localhost/media/") and user.image.endswith(".jpg")
    assert f'value="{user.image}"' in page.text
    served = await browser.client.get(user.image.removeprefix("http://localhost"))
    avatar = images.opened(await served.get_data())
    assert avatar.size == (256, 256) and not avatar.getexif()
    row = (await db_session.scalars(select(Upload))).one()
    assert row.purpose == "avatar" and row.user_id == user.id


async def test_a_bad_avatar_shows_the_settings_page_with_the_message(as_user, people, db_session, media_dir):
    browser = await as_user("author")
    await browser.get("/settings")
    response = await browser.client.post("/settings/avatar", files=images.upload(images.SVG_WITH_SCRIPT, "me.svg"),
                                         form={"csrf_token": await browser.token()})
    assert response.status_code == 422
    text = await response.get_data(as_text=True)
    assert 'id="avatar-error">The file is not a JPEG, PNG, GIF or WebP image.' in text
    user = await db_session.get(User, people["author"].id, populate_existing=True)
    assert not user.image and stored_files(media_dir) == []


async def test_an_anonymous_avatar_upload_goes_to_the_log_in_page(as_user, media_dir):
    browser = await as_user(None)
    response = await browser.client.post("/settings/avatar", files=images.upload(images.png(20, 20)),
                                         form={"csrf_token": await browser.token()})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert stored_files(media_dir) == []
