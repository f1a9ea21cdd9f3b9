"""Errors the service layer raises; the site and the API translate them.

The HTML blueprints turn them into a 404/403 page or form messages; the API
blueprint into 404/403 or 422 ``{"errors": {field: [message]}}``.
"""

from __future__ import annotations

from typing import Any


def N_(message: str) -> str:
    """Marks an English message for the site's catalog (``pybabel extract``); returns it
    unchanged: the API sends it as it is, the site translates it when it renders it."""
    return message


class Message(str):
    """An English message with parameters, e.g. ``Message("is too long (maximum is
    %(maximum)d characters)", maximum=40)``.  It *is* the formatted English text (what
    the API sends); ``msgid`` and ``params`` let the site translate it (``pybabel
    extract -k Message``)."""

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, **params: Any) -> "Message":
        self = super().__new__(cls, msgid % params if params else msgid)
        self.msgid = msgid
        self.params = params
        return self


class ServiceError(Exception):
    """Base class: something the client asked for cannot be done."""


class NotFound(ServiceError):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")
        self.what = what


class PermissionDenied(ServiceError):
    """``errors``: the API's ``{field: [message]}`` when a field explains the refusal
    (``{"email": ["must be verified first"]}``); else the API says ``{"body": [message]}``."""

    def __init__(self, message: str = "you are not allowed to do that",
                 errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


class ValidationFailed(ServiceError):
    """Invalid input: ``errors`` maps a field name to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors

    @classmethod
    def one(cls, field: str, message: str) -> "ValidationFailed":
        return cls({field: [message]})


class Errors:
    """Collects field errors, then raises them all at once."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)
