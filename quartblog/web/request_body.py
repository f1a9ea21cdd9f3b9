"""Every answer leaves the connection either reusable or closed on purpose.

hypercorn keeps an HTTP/1.1 connection for the next request only if, when the answer
ends, h11 has read the whole request body (``H11Protocol._maybe_recycle``: both sides
``DONE``); otherwise it closes the socket, although the answer did not say
``Connection: close``.  An answer given before the body was read (401 without a
token, 403, 404/405, 413, the CSRF 400, 429, 422 for a wrong content type) races with
the body's arrival: a client that reuses the connection then finds it closed
(httpx's ``RemoteProtocolError``), and the unread bytes left in the socket turn the
close into a reset.

``SettleRequestBody`` is an ASGI middleware that watches the request's messages
(Quart's receiver task reads them all, whether the view wants the body or not) and,
before an answer starts, waits for the rest of a body that has not all arrived:

* up to ``DRAIN_BYTES`` more (as Go's net/http, ``maxPostHandlerReadBytes``), and no
  later than ``BODY_TIMEOUT`` seconds after the request came: then the connection
  is reused;
* a body declared larger, one that goes on past that, or one still missing at the
  deadline (a client that never sends it, the 408 of a view that waited for it):
  the answer says ``Connection: close`` and hypercorn closes the connection after it.

Quart keeps what arrives in the request's body up to ``MAX_CONTENT_LENGTH`` (the
upload routes' own limit) and drops the rest, so draining costs no more memory.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from ..config import PREFIX, ConfigError

DRAIN_BYTES = 256 * 1024

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _Body:
    """How much of one request's body has come, and whether all of it has."""

    def __init__(self, scope: Scope) -> None:
        self.expected: int | None = None
        for name, value in scope.get("headers", ()):
            if name.lower() == b"content-length":
                try:
                    self.expected = int(value)
                except ValueError:
                    pass
        self.received = 0
        self.ended = asyncio.Event()
        self._limit: int | None = None  # set while draining: received past it is too much
        self._over = asyncio.Event()

    def saw(self, message: Message) -> None:
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if not message.get("more_body", False):
                self.ended.set()
            elif self._limit is not None and self.received > self._limit:
                self._over.set()
        elif message["type"] == "http.disconnect":
            self.ended.set()

    async def drained(self, deadline: float) -> bool:
        """True once the whole body has come (at most DRAIN_BYTES more, by ``deadline``)."""
        if self.ended.is_set():
            return True
        if self.expected is not None and self.expected - self.received > DRAIN_BYTES:
            return False
        self._limit = self.received + DRAIN_BYTES
        waits = [asyncio.ensure_future(self.ended.wait()), asyncio.ensure_future(self._over.wait())]
        try:
            timeout = max(0.0, deadline - asyncio.get_running_loop().time())
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        return self.ended.is_set()


class SettleRequestBody:
    """See the module.  ``body_timeout()`` gives the seconds a body may take (the app's
    ``BODY_TIMEOUT``), read on each request."""

    def __init__(self, app: ASGIApp, body_timeout: Callable[[], float]) -> None:
        self.app = app
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("http_version", "1.1")).startswith("1"):
            # HTTP/2 and 3 end a stream on its own, and forbid Connection headers.
            await self.app(scope, receive, send)
            return
        body = _Body(scope)
        deadline = asyncio.get_running_loop().time() + self.body_timeout()

        async def watched_receive() -> Message:
            message = await receive()
            body.saw(message)
            return message

        async def settled_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not await body.drained(deadline):
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, watched_receive, settled_send)


def init_app(app: Any) -> None:
    """Wraps the app's ASGI callable (``app.asgi_app``, Quart's hook for middleware);
    ``BODY_TIMEOUT`` (``QUARTBLOG_BODY_TIMEOUT``) must be a number of seconds above 0."""
    timeout = app.config.get("BODY_TIMEOUT")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ConfigError(f"{PREFIX}BODY_TIMEOUT={timeout!r} must be a number of seconds above 0")
    app.asgi_app = SettleRequestBody(app.asgi_app, lambda: float(app.config["BODY_TIMEOUT"]))
