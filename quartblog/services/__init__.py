"""The service/query layer: every query and every write lives here, once.

The HTML site (``quartblog.site``) and the JSON API (``quartblog.api``) both call
these functions with the request's session; they never build queries themselves.
Modules: ``users`` (accounts, profiles, follows, roles), ``posts`` (lists, single
posts, writing, favorites, views), ``comments``, ``tags``, ``errors``.
"""
