"""Errors specific to the API; service errors (404/403/422) are mapped in ``quartblog.web.errors``.

* invalid input found by quart-schema (a body or query string that does not fit
  its model) and malformed JSON or UTF-8: 422 ``{"errors": {"<field>": ["<message>"]}}``;
* 401 with ``WWW-Authenticate: Token``; 429 with ``Retry-After``.
"""

from __future__ import annotations

from quart import Blueprint
from pydantic import ValidationError
from quart_schema import RequestSchemaValidationError
from quart_schema.validation import QuerystringValidationError
from werkzeug.exceptions import BadRequest, Unauthorized

from ..web.errors import error_response

# pydantic error types -> the messages the services use for the same problems
MESSAGES = {
    "missing": "can't be blank",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "bool_type": "must be true or false",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "string_too_long": "is too long (maximum is {max_length} characters)",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
}


def _message(error: dict) -> str:
    if error["type"] == "string_too_short" and error.get("ctx", {}).get("min_length") == 1:
        return "can't be blank"
    template = MESSAGES.get(error["type"])
    return template.format(**error.get("ctx", {})) if template else error["msg"]


SHAPE_ERRORS = {"missing", "model_type", "model_attributes_type", "dict_type"}


def _field_and_message(error: dict, *, in_query: bool) -> tuple[str, str]:
    loc = error["loc"]
    if in_query:
        return (str(loc[0]) if loc else "query"), _message(error)
    if len(loc) > 1:  # loc[0] is the wrapper object ("article"), loc[1] the field in it
        return str(loc[1]), _message(error)
    if not loc:
        return "body", "must be a JSON object"
    if error["type"] in SHAPE_ERRORS:  # the wrapper object is missing or not an object
        return "body", f"must be a JSON object with an object '{loc[0]}'"
    return str(loc[0]), _message(error)  # a rule on the wrapper object as a whole


def field_errors(exc: RequestSchemaValidationError) -> dict[str, list[str]]:
    """pydantic's errors by the field a client knows: ``title`` for ``article.title``,
    ``limit`` for the query string's ``limit``, ``body`` for the request body itself."""
    if not isinstance(exc.validation_error, ValidationError):
        return {"body": ["is invalid"]}
    in_query = isinstance(exc, QuerystringValidationError)
    errors: dict[str, list[str]] = {}
    for error in exc.validation_error.errors():
        field, message = _field_and_message(error, in_query=in_query)
        if message not in errors.setdefault(field, []):
            errors[field].append(message)
    return errors


def init_blueprint(blueprint: Blueprint) -> None:
    @blueprint.errorhandler(RequestSchemaValidationError)
    async def _invalid_input(exc: RequestSchemaValidationError):
        return await error_response(422, "invalid input", field_errors(exc))

    @blueprint.errorhandler(BadRequest)  # request.get_json() on a body that is not JSON
    @blueprint.errorhandler(UnicodeDecodeError)  # ... or not even UTF-8 text
    async def _malformed(exc: Exception):
        return await error_response(422, "invalid input", {"body": ["must be valid JSON"]})

    @blueprint.errorhandler(Unauthorized)
    async def _unauthorized(exc: Unauthorized):
        body, status = await error_response(401, exc.description, getattr(exc, "errors", None))
        return body, status, {"WWW-Authenticate": "Token"}
