"""The README as a new user reads it (issue 16, "The first hour, again"): every setting
is in its table, and every block a person copies installs what it uses."""

from __future__ import annotations

import re
from dataclasses import fields

import pytest

from quartblog.config import Settings

from .commands import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()

# What a block uses -> what must be installed for it, and the words that install it
# (in the block itself, or in the paragraph just before it).
NEEDS = {
    "QUARTBLOG_REDIS_URL=": ("the redis extra", re.compile(r"pip install (-e )?'?\"?\.\[redis\]")),
    "import httpx": ("httpx", re.compile(r"pip install httpx")),
}


def blocks_with_their_introduction() -> list[tuple[str, str]]:
    """(the text between the previous block and this one, the block) for each code block."""
    found, end = [], 0
    for match in re.finditer(r"```\w*\n(.*?)```", README, re.S):
        found.append((README[end:match.start()], match.group(1)))
        end = match.end()
    return found


def settings_table() -> str:
    section = README[README.index("## Settings"):]
    return section[:section.index("\n\n", section.index("| variable"))]


@pytest.mark.parametrize("name", [f.name for f in fields(Settings)])
def test_every_setting_has_a_row_in_the_settings_table(name):
    # QUARTBLOG_SITE_NAME worked but was not in the table (nor were six others)
    rows = [line for line in settings_table().splitlines() if line.startswith("| `QUARTBLOG_")]
    named = {variable for row in rows for variable in re.findall(r"`(QUARTBLOG_\w+)`", row.split(" | ")[0])}
    assert f"QUARTBLOG_{name}" in named


@pytest.mark.parametrize("uses", list(NEEDS))
def test_every_block_that_uses_an_optional_package_says_how_to_install_it(uses):
    # the MariaDB/production block set QUARTBLOG_REDIS_URL without the redis extra (a traceback
    # at start-up); the async client example imported httpx, which only the test extra installs
    what, installs = NEEDS[uses]
    using = [(intro, block) for intro, block in blocks_with_their_introduction() if uses in block]
    assert using, f"no README block uses {uses!r}: update NEEDS"
    for intro, block in using:
        paragraph = intro.strip().split("\n\n")[-1]
        assert installs.search(block) or installs.search(paragraph), (
            f"a README block uses {uses!r} but neither it nor its paragraph installs {what}:\n{block}")
