"""The HTML site: server-rendered pages (blueprint ``site``)."""

from quart import Blueprint

blueprint = Blueprint("site", __name__)

from . import views  # noqa: E402,F401  (registers the routes)
