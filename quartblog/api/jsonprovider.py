"""JSON with orjson (fast; UTF-8 out, strict in: NaN and lone surrogates are rejected)."""

from __future__ import annotations

from typing import Any

import orjson
from quart.json.provider import DefaultJSONProvider
from pydantic_core import to_jsonable_python


def _default(value: Any) -> Any:
    try:
        return DefaultJSONProvider.default(value)
    except TypeError:
        return to_jsonable_python(value)  # pydantic models and the like, as quart-schema does


class OrjsonProvider(DefaultJSONProvider):
    sort_keys = False  # keys in the order the models declare them

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        option = orjson.OPT_NON_STR_KEYS
        if kwargs.get("indent"):
            option |= orjson.OPT_INDENT_2
        if kwargs.get("sort_keys", self.sort_keys):
            option |= orjson.OPT_SORT_KEYS
        return orjson.dumps(obj, default=_default, option=option).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)
