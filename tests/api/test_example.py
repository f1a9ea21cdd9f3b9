"""The client example of README.md (and docs/api.md), run as written: httpx over the ASGI app."""

from __future__ import annotations

import re

import httpx

from quartblog.migrations import PROJECT_ROOT


def _example(document: str, heading: str) -> str:
    text = (PROJECT_ROOT / document).read_text(encoding="utf-8")
    section = text[text.index("```python", text.index(heading)):]
    return section[len("```python"):section.index("```", 9)]


async def test_the_documented_client_example_works_and_can_run_again(app, monkeypatch, capsys):
    code = _example("README.md", "## The JSON API from an async client")
    assert _example("docs/api.md", "## A client in a few lines") == code
    assert code.rstrip().endswith("asyncio.run(main())")
    transport = httpx.ASGITransport(app=app)

    class OverTheApp(httpx.AsyncClient):  # the example's client, talking to the app in-process
        def __init__(self, **kwargs):
            super().__init__(transport=transport, **kwargs)

    monkeypatch.setattr(httpx, "AsyncClient", OverTheApp)
    namespace: dict = {}
    exec(compile(code.rstrip().removesuffix("asyncio.run(main())"), "README.md", "exec"), namespace)
    await namespace["main"]()   # registers ada
    await namespace["main"]()   # ada exists: logs in (it died with a KeyError here)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert re.fullmatch(r"Hello, API \['httpx', 'python'\] \d{4}-\d\d-\d\dT[\d:.]+Z", line)

    async with OverTheApp(base_url="http://127.0.0.1:8000/api") as api:
        articles = (await api.get("/articles", params={"author": "ada"})).json()
    assert sorted(a["slug"] for a in articles["articles"]) == ["hello-api", "hello-api-2"]
