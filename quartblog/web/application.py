"""The app class: Quart, with each request one retried unit of work (``unit_of_work``)
and every URL built from ``SITE_URL`` when it is set (``routing``).  Imported by
``create_app`` only: importing the package builds nothing and loads no Quart."""

from __future__ import annotations

from quart import Quart

from .routing import SiteUrlMixin
from .unit_of_work import UnitOfWorkMixin


class BlogApp(UnitOfWorkMixin, SiteUrlMixin, Quart):
    """See the module."""
