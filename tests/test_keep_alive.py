"""A keep-alive connection survives an early answer, and a body that never arrives
does not hold it, against a real ``hypercorn quartblog:app`` (2 workers, production
settings).

The client is a raw asyncio socket speaking HTTP/1.1 through h11 (the same parser
hypercorn uses): request 1 carries a body the app refuses before reading it (401,
403, 404, 405, 413, the site's CSRF 400, 429, a wrong content type); its headers
and its body go out in two writes, as httpx sends them.  Then request 2 goes on the
same socket and must get a complete, correct answer, unless answer 1 said
``Connection: close`` and the server then closed cleanly: the client reconnects.

Issue 22, finding 2 (before the fix 7-8 of 40 rounds broke the next request) and
finding 6 (``QUARTBLOG_BODY_TIMEOUT``).  ``QUARTBLOG_TEST_KEEPALIVE_ROUNDS`` sets the
rounds per case (40).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import h11
import httpx
import pytest

from quartblog import create_app
from quartblog.config import ConfigError, Settings
from quartblog.db import create_engine
from quartblog.migrations import upgrade

from .conftest import TEST_SECRET, fresh_database

ROUNDS = int(os.environ.get("QUARTBLOG_TEST_KEEPALIVE_ROUNDS", "40"))
WORKERS = 2
UPLOAD_MAX_BYTES = 16 * 1024  # the upload routes accept this + 64 KiB of multipart framing
BODY_TIMEOUT = 1.0
# Far above BODY_TIMEOUT and below Quart's own 60 s default: an answer within this
# bound is the server's doing; a connection still silent then is held.
HELD = 20.0
PASSWORD = "correct horse battery"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    closes: bool = field(default=False)  # the server said it would close


class RawClient:
    """One TCP connection; requests and answers framed by an h11 client."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT)

    @classmethod
    async def connect(cls, port: int) -> "RawClient":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass

    def request_bytes(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes,
                      content_length: int | None = None) -> tuple[bytes, bytes]:
        """The request's head and its body, as two writes."""
        length = len(body) if content_length is None else content_length
        all_headers = [("Host", "127.0.0.1"), *headers]
        if method not in ("GET", "HEAD") or body:
            all_headers.append(("Content-Length", str(length)))
        head = self.h11.send(h11.Request(method=method, target=target, headers=all_headers))
        data = self.h11.send(h11.Data(data=body)) if body else b""
        if len(body) == length:
            data += self.h11.send(h11.EndOfMessage())
        return head, data

    async def send(self, method: str, target: str, headers: list[tuple[str, str]] = (), body: bytes = b"",
                   content_length: int | None = None) -> asyncio.Task:
        """Writes the head now and the body in a task of its own (a server that refuses a
        large body and closes may leave the rest unwritable: that is not an error here)."""
        head, data = self.request_bytes(method, target, list(headers), body, content_length)
        try:
            self.writer.write(head)
            await self.writer.drain()
        except ConnectionError as exc:
            raise AssertionError(f"the connection broke before the request was sent: {exc!r}") from None

        async def write_body() -> None:
            if data:
                try:
                    async with asyncio.timeout(HELD):
                        self.writer.write(data)
                        await self.writer.drain()
                except ConnectionError:
                    pass

        return asyncio.get_running_loop().create_task(write_body())

    async def answer(self) -> Answer:
        """The whole answer, or AssertionError for a connection that broke instead."""
        status, headers, body = None, {}, bytearray()
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise AssertionError(f"the connection broke before a whole answer: {exc}") from None
            if event is h11.NEED_DATA:
                try:
                    data = await self.reader.read(65536)
                except ConnectionError as exc:
                    raise AssertionError(f"the connection broke before a whole answer: {exc!r}") from None
                self.h11.receive_data(data)
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode().lower(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return Answer(status, headers, bytes(body), closes="close" in headers.get("connection", "").lower())
            elif isinstance(event, h11.ConnectionClosed):
                raise AssertionError(f"the server closed the connection without a whole answer (status {status})")

    async def closed_by_server(self) -> bool:
        """True once the server ends the connection (EOF, or a reset after EOF); False
        if it sends more, or keeps it open for HELD seconds."""
        try:
            async with asyncio.timeout(HELD):
                return await self.reader.read(65536) == b""
        except ConnectionError:
            return True
        except TimeoutError:
            return False

    async def reusable(self) -> bool:
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
            return True
        return False


@dataclass
class Server:
    port: int
    reader_token: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
async def server(backend: str, tmp_path_factory: pytest.TempPathFactory):
    """hypercorn quartblog:app, 2 workers, production settings, a short body timeout."""
    tmp = tmp_path_factory.mktemp(f"keepalive-{backend}")
    async with fresh_database(backend, tmp) as url:
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(512)
        port = listener.getsockname()[1]
        env = {
            **os.environ,
            "QUARTBLOG_ENV": "production",
            "QUARTBLOG_SITE_URL": f"http://127.0.0.1:{port}",
            "QUARTBLOG_DATABASE_URL": url,
            "QUARTBLOG_SECRET_KEY": TEST_SECRET,
            "QUARTBLOG_AUTH_RATE_LIMIT_PER_MINUTE": "2",  # the 429 case is the log-in's
            "QUARTBLOG_UPLOAD_RATE_LIMIT_PER_MINUTE": "0",
            "QUARTBLOG_DEFAULT_ROLE": "reader",
            "QUARTBLOG_UPLOAD_MAX_BYTES": str(UPLOAD_MAX_BYTES),
            "QUARTBLOG_MEDIA_DIR": str(tmp / "media"),
            "QUARTBLOG_BODY_TIMEOUT": str(BODY_TIMEOUT),
        }
        log = open(tmp / "hypercorn.log", "wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "hypercorn", "quartblog:app", "--workers", str(WORKERS),
             "--bind", f"fd://{listener.fileno()}"],
            pass_fds=[listener.fileno()], env=env, stdout=log, stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[1],
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60.0) as client:
                registered = await client.post("/api/users", json={"user": {
                    "username": "reader", "email": "reader@example.com", "password": PASSWORD}})
            assert registered.status_code == 201, registered.text
            yield Server(port, registered.json()["user"]["token"])
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            listener.close()
            log.close()
        server_log = (tmp / "hypercorn.log").read_text(errors="replace")
        assert "Traceback" not in server_log, server_log[-5000:]


def multipart(size: int) -> tuple[str, bytes]:
    boundary = "quartblogboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + b"\x89PNG" + b"x" * size + f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


JSON = ("Content-Type", "application/json")


def json_body(size: int) -> bytes:
    return b'{"article": {"title": "t", "description": "d", "body": "' + b"x" * size + b'"}}'


@dataclass
class Case:
    name: str
    method: str
    target: str
    status: int
    body: bytes
    headers: list[tuple[str, str]]
    token: bool = False
    primes: int = 0  # requests sent first on the connection (the rate limit's attempts)


def cases() -> list[Case]:
    form = ("Content-Type", "application/x-www-form-urlencoded")
    upload_type, small_upload = multipart(UPLOAD_MAX_BYTES // 2)
    _, drainable_upload = multipart(UPLOAD_MAX_BYTES + 80 * 1024)  # over the limit, within the drain bound
    _, huge_upload = multipart(2 * 1024 * 1024)  # over the drain bound: answered, then closed
    login = b'{"user": {"email": "nobody@example.com", "password": "' + b"p" * 60_000 + b'"}}'
    return [
        Case("401 API without token, 100 B", "POST", "/api/articles", 401, json_body(40), [JSON]),
        Case("401 API without token, 64 KB", "POST", "/api/articles", 401, json_body(64 * 1024), [JSON]),
        Case("403 reader uploading", "POST", "/api/uploads", 403, small_upload, [("Content-Type", upload_type)],
             token=True),
        Case("404 POST", "POST", "/api/no-such-thing", 404, json_body(64 * 1024), [JSON]),
        Case("405 POST", "POST", "/api/tags", 405, json_body(64 * 1024), [JSON]),
        Case("413 upload over the limit", "POST", "/api/uploads", 413, drainable_upload,
             [("Content-Type", upload_type)], token=True),
        Case("413 upload far over the limit", "POST", "/api/uploads", 413, huge_upload,
             [("Content-Type", upload_type)], token=True),
        Case("422 wrong content type", "PUT", "/api/user", 422, b"x" * 64 * 1024,
             [("Content-Type", "text/plain")], token=True),
        Case("400 site CSRF", "POST", "/preview", 400, b"email=a&password=" + b"p" * 64 * 1024,
             [form, ("X-CSRF-Token", "forged")]),
        Case("429 rate limit", "POST", "/api/users/login", 429, login, [JSON], primes=2),
    ]


async def one_round(server: Server, case: Case) -> str | None:
    """None when request 2 got its whole, right answer; else what went wrong."""
    client = await RawClient.connect(server.port)
    try:
        return await _round(server, case, client)
    except AssertionError as exc:
        return str(exc)


async def _round(server: Server, case: Case, client: RawClient) -> str | None:
    try:
        headers = list(case.headers)
        if case.token:
            headers.append(("Authorization", f"Token {server.reader_token}"))
        for _ in range(case.primes):  # attempts that use up the limit, on this same worker
            writing = await client.send(case.method, case.target, headers, case.body)
            primed = await client.answer()
            await writing
            if not await client.reusable():
                assert primed.closes and await client.closed_by_server(), primed
                await client.close()
                client = await RawClient.connect(server.port)
        writing = await client.send(case.method, case.target, headers, case.body)
        first = await client.answer()
        await writing
        assert first.status == case.status, (first.status, first.body[:300])
        if not await client.reusable():
            # Not reusable: the server must have said so, and then closed.
            if not first.closes:
                return f"answered {first.status} without Connection: close but did not finish reading the request"
            assert await client.closed_by_server()
            await client.close()
            client = await RawClient.connect(server.port)
        try:
            await client.send("GET", "/healthz")
            second = await client.answer()
        except AssertionError as exc:
            return f"request 2 after {first.status}{' (close)' if first.closes else ''}: {exc}"
        if second.status != 200 or second.body.strip() != b'{"status":"ok"}':
            return f"request 2 got {second.status} {second.body[:200]!r}"
        return None
    finally:
        await client.close()


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.name)
async def test_an_early_answer_leaves_the_connection_usable(server, case):
    failures = [failure for failure in [await one_round(server, case) for _ in range(ROUNDS)] if failure]
    assert not failures, f"{len(failures)} of {ROUNDS} rounds broke: {failures[:3]}"


async def test_an_answer_without_reading_a_large_body_says_close(server):
    """A body past the drain bound is not read: the answer says Connection: close."""
    _, huge_upload = multipart(2 * 1024 * 1024)
    upload_type = multipart(0)[0]
    client = await RawClient.connect(server.port)
    try:
        writing = await client.send("POST", "/api/uploads", [("Content-Type", upload_type)], huge_upload)
        answer = await client.answer()
        await writing
        assert answer.status == 413 and answer.closes, answer
        assert await client.closed_by_server()
    finally:
        await client.close()


@pytest.mark.parametrize("target, headers, status", [
    ("/api/user", [JSON, ("Authorization", "token")], 408),  # the API reads it (and times out)
    ("/preview", [("Content-Type", "application/x-www-form-urlencoded")], 408),  # the site's CSRF check reads it
    ("/api/no-such-thing", [JSON], 404),  # refused early
], ids=["api-reads", "site-reads", "early-refusal"])
async def test_a_body_that_never_arrives_is_not_waited_for(server, target, headers, status):
    """Content-Length promises 1000 bytes, 10 come: the server answers within its body
    timeout (or closes), and closes the connection, rather than holding it."""
    headers = [(k, f"Token {server.reader_token}" if v == "token" else v) for k, v in headers]
    client = await RawClient.connect(server.port)
    try:
        method = "PUT" if target == "/api/user" else "POST"
        await client.send(method, target, headers, b'{"user": {', content_length=1000)
        try:
            async with asyncio.timeout(HELD):
                answer = await client.answer()
                closed = await client.closed_by_server()
        except TimeoutError:
            pytest.fail(f"the connection was held: no answer and no close within {HELD} s")
        assert answer.status == status, answer
        assert answer.closes and closed, answer
    finally:
        await client.close()


def test_the_body_timeout_is_a_setting_quart_uses():
    """QUARTBLOG_BODY_TIMEOUT becomes Quart's BODY_TIMEOUT (10 s unless set); 0 or less is refused."""
    assert Settings.from_env({}).BODY_TIMEOUT == 10.0
    assert Settings.from_env({"QUARTBLOG_BODY_TIMEOUT": "2.5"}).BODY_TIMEOUT == 2.5
    assert create_app({"BODY_TIMEOUT": 2.5}).config["BODY_TIMEOUT"] == 2.5
    for wrong in (0, -1):
        with pytest.raises(ConfigError, match="QUARTBLOG_BODY_TIMEOUT"):
            create_app({"BODY_TIMEOUT": wrong})
