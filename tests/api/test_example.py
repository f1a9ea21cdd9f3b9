"""The client example of docs/api.md, run as written (httpx over the ASGI app)."""

from __future__ import annotations

import httpx


async def test_the_documented_client_example_works(app):
    # --- as in docs/api.md ---------------------------------------------------------------
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://blog.example/api") as api:
        response = await api.post("/users", json={"user": {
            "username": "ada", "email": "ada@example.com", "password": "correct horse battery"}})
        token = response.json()["user"]["token"]
        api.headers["Authorization"] = f"Token {token}"

        response = await api.post("/articles", json={"article": {
            "title": "Hello, API", "description": "A first post", "body": "Written with *httpx*.",
            "tagList": ["python", "httpx"]}})
        slug = response.json()["article"]["slug"]

        article = (await api.get(f"/articles/{slug}")).json()["article"]
        print(article["title"], article["tagList"], article["createdAt"])
    # ---------------------------------------------------------------------------------------
    assert slug == "hello-api"
    assert article["title"] == "Hello, API"
    assert article["tagList"] == ["httpx", "python"]
    assert article["author"]["username"] == "ada"
