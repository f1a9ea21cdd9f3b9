"""The app class: Quart, with each request one retried unit of work (``unit_of_work``)
and every URL built from ``SITE_URL`` when it is set (``routing``).  Imported by
``create_app`` only: importing the package builds nothing and loads no Quart."""

from __future__ import annotations

import errno

from quart import Quart, Response
from werkzeug.exceptions import NotFound

from .routing import SiteUrlMixin
from .unit_of_work import UnitOfWorkMixin


class BlogApp(UnitOfWorkMixin, SiteUrlMixin, Quart):
    """See the module."""

    async def send_static_file(self, filename: str) -> Response:
        """404 for a name the file system refuses (too long, invalid), as for any missing file."""
        try:
            return await super().send_static_file(filename)
        except OSError as exc:
            if exc.errno in (errno.ENAMETOOLONG, errno.EINVAL, errno.ELOOP):
                raise NotFound() from exc
            raise
