"""The command line, ``quart --app quartblog ...``: the async shell (``shell``), the
``db`` group (``migrate``), the admin and data commands (``commands``) and the demo
data (``seed``)."""

from .commands import init_app
from .shell import shell_command

__all__ = ["init_app", "shell_command"]
