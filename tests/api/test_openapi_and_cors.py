"""The API's own OpenAPI document, its docs page, and CORS for browser front ends."""

from __future__ import annotations

import re

import pytest


async def test_every_api_route_is_in_the_openapi_document(app, client):
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    document = await response.get_json()
    documented = {(path, method.upper()) for path, operations in document["paths"].items()
                  for method in operations}

    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint in ("openapi", "swagger_ui"):
            continue
        path = re.sub(r"<(?:[^:<>]*:)?([^<>]+)>", r"{\1}", rule.rule)
        routes |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    # every operation of the contract, and the extensions: uploads, drafts, admin, moderation, password
    # reset, subscriptions
    assert len(routes) == 19 + 8 + 3 + 1
    assert routes == documented


async def test_the_document_describes_the_api_as_implemented(client):
    document = await (await client.get("/api/openapi.json")).get_json()
    assert all(path.startswith("/api/") for path in document["paths"])  # no HTML pages
    assert document["components"]["securitySchemes"]["Token"] == {
        "type": "apiKey", "name": "Authorization", "in": "header"}
    create = document["paths"]["/api/articles"]["post"]
    assert set(create["responses"]) == {"201", "401", "422"}
    assert create["security"] == [{"Token": []}]
    listing = document["paths"]["/api/articles"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"tag", "author", "favorited", "limit", "offset",
                                                         "q"}  # q: the search extension
    delete = document["paths"]["/api/articles/{slug}"]["delete"]
    assert {"204", "401", "403", "404"} <= set(delete["responses"])
    article = document["components"]["schemas"]["Article"]
    assert {"tagList", "createdAt", "favoritesCount", "body"} <= set(article["required"])
    assert "body" not in document["components"]["schemas"]["ArticleSummary"]["properties"]


async def test_the_docs_page_is_off_by_default(client):
    assert (await client.get("/docs")).status_code == 404
    assert (await client.get("/api/docs")).status_code == 404


@pytest.mark.parametrize("app_config", [{"API_DOCS_PATH": "/api/docs"}])
async def test_the_docs_page_can_be_turned_on(client, app_config):
    response = await client.get("/api/docs")
    assert response.status_code == 200
    assert "/api/openapi.json" in await response.get_data(as_text=True)


async def test_cors_lets_any_origin_call_the_api_by_default(client):
    preflight = await client.options("/api/articles", headers={
        "Origin": "https://front.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()

    error = await client.get("/api/user", headers={"Origin": "https://front.example"})
    assert error.status_code == 401
    assert error.headers["Access-Control-Allow-Origin"] == "*"  # the front end can read why


@pytest.mark.parametrize("app_config", [{"CORS_ORIGINS": ["https://front.example"]}])
async def test_cors_origins_are_configurable_and_apply_to_the_api_only(client, app_config):
    allowed = await client.get("/api/tags", headers={"Origin": "https://front.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://front.example"
    other = await client.get("/api/tags", headers={"Origin": "https://evil.example"})
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers
    site = await client.get("/", headers={"Origin": "https://front.example"})
    assert "Access-Control-Allow-Origin" not in site.headers


@pytest.mark.parametrize("app_config", [{"AUTH_RATE_LIMIT_PER_MINUTE": 1}])
async def test_cors_preflights_do_not_use_up_the_log_in_rate_limit(client, app_config):
    for _ in range(3):
        preflight = await client.options("/api/users/login", headers={
            "Origin": "https://front.example", "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 200
    login = await client.post("/api/users/login", json={"user": {"email": "a@example.com", "password": "x"}})
    assert login.status_code == 401
