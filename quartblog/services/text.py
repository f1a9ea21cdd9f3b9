"""The one check for control characters in what people write.

C0 and C1 control characters (NUL, ESC, DEL, U+0080..U+009F ...) have no place in
text that is shown to others: they break terminals, feeds (XML 1.0 forbids most of
them) and log lines.  Multi-line fields (post and comment bodies, bios) may keep
tab, line feed and carriage return; one-line fields (titles, usernames,
descriptions, image URLs) may not.
"""

from __future__ import annotations

import re

from .errors import N_, Errors

_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MULTI_LINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    return bool((_MULTI_LINE if multiline else _ONE_LINE).search(value))


def check_text(errors: Errors, field: str, value: str | None, *, multiline: bool = False) -> bool:
    """Add an error for ``field`` if ``value`` holds control characters; True if it is clean."""
    if value is None or not has_control_characters(value, multiline=multiline):
        return True
    if multiline:
        errors.add(field, N_("must not contain control characters"))
    else:
        errors.add(field, N_("must not contain control characters or line breaks"))
    return False
