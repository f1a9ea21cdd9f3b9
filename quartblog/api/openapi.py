"""The API's own OpenAPI document at ``/api/openapi.json`` (quart-schema).

Only ``/api`` routes are described (the HTML site is not an API).  Every operation
also lists the error answers the API gives: 422 for invalid input, 401 where a
token is used, 403/404 where a resource is addressed.  The interactive docs page
loads scripts from a CDN, so it is off unless ``API_DOCS_PATH`` is set.
"""

from __future__ import annotations

import re

from quart import Quart
from quart_schema import QuartSchema
from quart_schema.openapi import OpenAPIProvider
from werkzeug.routing import Rule

from ..types import ID_MAX
from ..web.routing import IdConverter
from .schemas import ErrorsResponse

OPENAPI_PATH = "/api/openapi.json"
# quart-schema's own pattern runs across "<slug>/comments/<int:id>"; this one stays in one <...>
RULE_ARGUMENT = re.compile(r"<(?:[^:<>]*:)?([^<>]+)>")
ERRORS_REF = {"$ref": "#/components/schemas/ErrorsResponse"}


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ERRORS_REF}}}


class ApiOpenAPIProvider(OpenAPIProvider):
    def generate_rules(self):
        return (rule for rule in super().generate_rules() if rule.rule.startswith("/api/"))

    def build_path_parameter(self, name: str, converter) -> dict:
        parameter = super().build_path_parameter(name, converter)
        if isinstance(converter, IdConverter):
            parameter["schema"].update(minimum=1, maximum=ID_MAX)
        return parameter

    def build_paths(self, rule: Rule) -> tuple[dict, dict]:
        paths, components = super().build_paths(rule)
        paths = {RULE_ARGUMENT.sub(r"{\1}", rule.rule): operations for operations in paths.values()}
        components["ErrorsResponse"] = ErrorsResponse.model_json_schema(
            ref_template="#/components/schemas/{model}")
        for operations in paths.values():
            for method, operation in operations.items():
                responses = operation["responses"] = dict(operation["responses"])
                if not responses:
                    responses["204"] = {"description": "No content"}
                responses["422"] = _error("Invalid input")
                if "security" in operation:
                    responses["401"] = _error("Missing, invalid or expired token")
                if rule.arguments:
                    responses["404"] = _error("Not found")
                    if method in ("put", "delete") and "security" in operation:
                        responses["403"] = _error("Not yours to change")
        return paths, components


def init_openapi(app: Quart) -> QuartSchema:
    docs_path = app.config.get("API_DOCS_PATH") or None
    return QuartSchema(
        app,
        openapi_path=OPENAPI_PATH,
        swagger_ui_path=docs_path,
        redoc_ui_path=None,
        scalar_ui_path=None,
        info={"title": "quartblog API (RealWorld)", "version": "1.1.0",
              "description": "The RealWorld (Conduit) API; articles are the blog's posts."},
        security_schemes={"Token": {"type": "apiKey", "name": "Authorization", "in_": "header"}},
        openapi_provider_class=ApiOpenAPIProvider,
    )
