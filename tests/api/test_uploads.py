"""POST /api/uploads: images checked by their content, cleaned, stored, served from /media/."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from quartblog import db
from quartblog.web.media import get_storage
from quartblog.models import Role, Upload
from quartblog.services import uploads
from tests import images
from tests.factories import make_user

from .conftest import errors_of

IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture(autouse=True)
def media_dir(app_config, tmp_path) -> Path:
    """Each test's files in a folder of its own."""
    app_config["MEDIA_DIR"] = str(tmp_path / "media")
    return tmp_path / "media"


def stored_files(media_dir: Path) -> list[str]:
    return sorted(p.name for p in media_dir.iterdir()) if media_dir.exists() else []


async def upload_count(db_session) -> int:
    return await db_session.scalar(select(func.count()).select_from(Upload))


async def post_upload(client, who, data: bytes, filename: str = "photo.jpg", content_type: str = "image/jpeg"):
    headers = who.headers if who is not None else {}
    return await client.post("/api/uploads", headers=headers, files=images.upload(data, filename, content_type))


async def fetch(client, url: str):
    path = url.split("://", 1)[1].partition("/")[2]
    return await client.get("/" + path)


async def test_a_photo_is_turned_upright_scaled_down_stripped_of_its_metadata_and_served(
        client, alice, media_dir, db_session):
    original = images.big_jpeg_with_gps(3000, 2000, orientation=6)
    assert images.opened(original).getexif().get_ifd(images.GPS_IFD)  # the camera's GPS position is in it

    response = await post_upload(client, alice, original)

    assert response.status_code == 201, await response.get_data(as_text=True)
    upload = (await response.get_json())["upload"]
    assert upload["url"].startswith("http://localhost/media/") and upload["url"].endswith(".jpg")
    # EXIF orientation 6 (turn 90° clockwise): 3000x2000 as stored is 2000x3000 upright, then 1600 wide.
    assert (upload["width"], upload["height"], upload["contentType"]) == (1600, 2400, "image/jpeg")

    served = await fetch(client, upload["url"])
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/jpeg"
    assert served.headers["Cache-Control"] == IMMUTABLE
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    image = images.opened(await served.get_data())
    assert image.format == "JPEG" and image.size == (1600, 2400)
    assert not image.getexif() and "comment" not in image.info and "exif" not in image.info
    red, blue = image.getpixel((800, 100)), image.getpixel((800, 2300))
    assert red[0] > 200 and red[2] < 60, "the left (red) half is now at the top"
    assert blue[2] > 200 and blue[0] < 60

    [name] = stored_files(media_dir)
    assert upload["url"].endswith("/" + name) and len(name) == 64 + 4
    assert (media_dir / name).read_bytes() == await served.get_data()
    row = (await db_session.scalars(select(Upload))).one()
    assert (row.name, row.purpose, row.size, row.width) == (name, "post", upload["size"], 1600)


@pytest.mark.parametrize("make, filename, fmt, extension", [
    (lambda: images.png(400, 300), "a.png", "PNG", "png"),
    (lambda: images.gif(frames=3), "a.gif", "GIF", "gif"),
    (lambda: images.webp(200, 100), "a.webp", "WEBP", "webp"),
])
async def test_png_gif_and_webp_keep_their_format(client, alice, make, filename, fmt, extension):
    original = make()
    response = await post_upload(client, alice, original, filename, "application/octet-stream")
    assert response.status_code == 201, await response.get_data(as_text=True)
    url = (await response.get_json())["upload"]["url"]
    assert url.endswith("." + extension)
    served = await fetch(client, url)
    assert served.headers["Content-Type"] == f"image/{extension}"
    image = images.opened(await served.get_data())
    assert image.format == fmt and image.size == images.opened(original).size
    if fmt == "GIF":
        assert image.n_frames == 3, "an animation stays animated"
    if fmt == "PNG":
        assert image.mode == "RGBA", "transparency is kept"


async def test_the_name_comes_from_the_content_not_from_the_file_name(client, alice):
    data = images.png(64, 64, "RGB")
    first = await post_upload(client, alice, data, "cat.png", "image/png")
    second = await post_upload(client, alice, data, "evil.php", "text/x-php")
    assert (await first.get_json())["upload"]["url"] == (await second.get_json())["upload"]["url"]
    assert "cat" not in (await first.get_json())["upload"]["url"]


@pytest.mark.parametrize("label", list(images.bad_files()))
async def test_a_bad_file_is_refused_with_422_and_leaves_nothing_behind(client, alice, media_dir, db_session, label):
    filename, data = images.bad_files()[label]
    response = await post_upload(client, alice, data, filename, "image/jpeg")
    assert response.status_code == 422
    [message] = (await errors_of(response))["file"]
    expected = {"zero bytes": "The file is empty."}.get(label)
    if expected:
        assert message == expected
    elif label.startswith("truncated"):
        assert message == "The image is damaged or incomplete."
    else:
        assert message == "The file is not a JPEG, PNG, GIF or WebP image."
    assert stored_files(media_dir) == []
    assert await upload_count(db_session) == 0


async def test_a_decompression_bomb_is_refused_before_it_is_decoded(client, alice, media_dir):
    response = await post_upload(client, alice, images.bomb_png(30_000), "bomb.png", "image/png")
    assert response.status_code == 422
    assert await errors_of(response) == {"file": ["The image has too many pixels (at most 50 million)."]}
    assert stored_files(media_dir) == []


async def test_no_file_part_is_422_at_the_file_field(client, alice):
    response = await client.post("/api/uploads", headers=alice.headers, form={"file": "not a file"})
    assert response.status_code == 422
    assert await errors_of(response) == {"file": ["No file was sent."]}


async def test_a_file_over_the_limit_is_413_and_leaves_nothing_behind(app, client, alice, media_dir,
                                                                       db_session):
    app.config["UPLOAD_MAX_BYTES"] = 100_000
    just_over = images.big_jpeg_with_gps(800, 600)[:64] + b"\0" * 100_001  # within the body's framing room
    response = await post_upload(client, alice, just_over)
    assert response.status_code == 413
    assert await errors_of(response) == {"file": ["The file is larger than 0.0953674 MB."]}

    # Far over: refused by its Content-Length, before the body is read.
    response = await post_upload(client, alice, b"\0" * 300_000)
    assert response.status_code == 413
    assert list(await errors_of(response)) == ["file"]
    assert stored_files(media_dir) == [] and await upload_count(db_session) == 0


async def test_the_limit_may_be_above_quarts_own_max_content_length(app, client, alice):
    app.config["UPLOAD_MAX_BYTES"] = 20 * 1024 * 1024  # Quart's MAX_CONTENT_LENGTH is 16 MB
    data = images.png(64, 64) + b"\0" * (17 * 1024 * 1024)  # trailing bytes after IEND: re-encoding drops them
    response = await post_upload(client, alice, data, "big.png", "image/png")
    assert response.status_code == 201, await response.get_data(as_text=True)
    assert (await response.get_json())["upload"]["size"] < 20_000


async def test_who_may_upload(client, db_session, alice):
    await make_user(db_session, "rita", Role.READER)
    await make_user(db_session, "root", Role.ADMIN)

    async def token_of(username: str):
        response = await client.post("/api/users/login", json={
            "user": {"email": f"{username}@example.com", "password": "correct horse battery"}})
        from .conftest import Client
        return Client(username, f"{username}@example.com", (await response.get_json())["user"]["token"])

    data = images.png(32, 32)
    assert (await post_upload(client, None, data)).status_code == 401
    reader = await post_upload(client, await token_of("rita"), data)
    assert reader.status_code == 403
    assert await errors_of(reader) == {"body": ["readers cannot write posts"]}
    assert (await post_upload(client, alice, data)).status_code == 201
    assert (await post_upload(client, await token_of("root"), data)).status_code == 201


async def test_urls_come_from_site_url(app, client, alice):
    app.config["SITE_URL"] = "https://blog.example.com/base"
    response = await post_upload(client, alice, images.png(16, 16), "a.png", "image/png")
    assert (await response.get_json())["upload"]["url"].startswith("https://blog.example.com/base/media/")


async def test_media_serves_only_stored_names(client, alice):
    url = (await (await post_upload(client, alice, images.png(16, 16), "a.png")).get_json())["upload"]["url"]
    name = url.rsplit("/", 1)[1]
    assert (await client.get("/media/" + "0" * 64 + ".png")).status_code == 404
    assert (await client.get("/media/..%2Fquartblog.db")).status_code == 404
    assert (await client.get("/media/" + name.replace(".png", ".jpg"))).status_code == 404
    again = await client.get("/media/" + name, headers={"If-None-Match": f'"{name[:64]}"'})
    assert again.status_code == 304


async def test_uploads_are_rate_limited(app, client, alice):
    app.config["UPLOAD_RATE_LIMIT_PER_MINUTE"] = 2
    data = images.png(16, 16)
    assert [(await post_upload(client, alice, data)).status_code for _ in range(3)] == [201, 201, 429]


async def test_the_image_work_runs_in_a_worker_thread(client, alice, monkeypatch):
    threads = []
    real = uploads.clean_image

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(uploads, "clean_image", recording)
    assert (await post_upload(client, alice, images.png(16, 16))).status_code == 201
    assert threads and threads[0] is not threading.main_thread()


async def test_deleting_a_persons_uploads_keeps_files_others_also_uploaded(app, client, alice, bob, media_dir,
                                                                           db_session):
    shared, own = images.png(20, 20), images.png(30, 30)
    for who, data in ((alice, shared), (alice, own), (bob, shared)):
        assert (await post_upload(client, who, data)).status_code == 201
    assert len(stored_files(media_dir)) == 2
    alice_id = (await db_session.scalars(select(Upload.user_id).order_by(Upload.id))).first()

    async with app.test_request_context("/"):
        assert await uploads.delete_user_uploads(db_session, get_storage(app), alice_id) == 2
        assert len(stored_files(media_dir)) == 2  # the files go once the deletion is committed
        await db_session.commit()
        await db.run_after_commit(db_session)  # what a request's unit of work does after its commit
    assert len(stored_files(media_dir)) == 1 and await upload_count(db_session) == 1


async def test_the_openapi_document_describes_the_upload(client):
    document = await (await client.get("/api/openapi.json")).get_json()
    operation = document["paths"]["/api/uploads"]["post"]
    body = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    if "$ref" in body:
        body = document["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert body["properties"]["file"] == {**body["properties"]["file"], "type": "string", "format": "binary"}
    assert {"201", "401", "403", "413", "422"} <= set(operation["responses"])
    assert operation["security"]
