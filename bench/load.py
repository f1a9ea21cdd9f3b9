"""The benchmark's load: sign-ins (API token, the site's log-in form), wrk per endpoint, the
memory soak, and the writing mix (httpx writers at a bounded rate beside wrk readers)."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import time
import uuid
from typing import Any

import httpx

from bench.figures import (Endpoint, cookie_header, csrf_from_form, growth_pct, parse_wrk_output,
                           summarize_writes, wrk_command)
from bench.stack import Server, log, workers_rss_kb

SQL_HEADER = "X-SQL-Statements"
PASSWORD = "password123"  # every seeded user's (quartblog.cli.seed)


def probe(url: str, headers: dict[str, str]) -> tuple[int, int | None, str]:
    """One request, redirects not followed: status, X-SQL-Statements (None if absent), body."""
    response = httpx.get(url, headers=headers, timeout=30)
    sql = response.headers.get(SQL_HEADER)
    return response.status_code, (int(sql) if sql is not None else None), response.text


def api_token(base_url: str, email: str) -> str | None:
    response = httpx.post(base_url + "/api/users/login", timeout=30,
                          json={"user": {"email": email, "password": PASSWORD}})
    if response.status_code != 200:
        log(f"API log-in as {email}: {response.status_code} {response.text[:200]}")
        return None
    return response.json()["user"]["token"]


def site_cookie(base_url: str, email: str) -> str | None:
    """Log in through the site's form (GET /login for the CSRF token, POST /login): the
    ``Cookie`` header with the ``session`` and ``quartblog_auth`` cookies. The cookies are
    Secure in production, so they are carried by hand, not by a cookie jar."""
    form = httpx.get(base_url + "/login", timeout=30)
    token = csrf_from_form(form.text)
    response = httpx.post(base_url + "/login", timeout=30, headers={"Cookie": cookie_header(form.headers.get_list("set-cookie"))},
                          data={"email": email, "password": PASSWORD, "csrf_token": token or ""})
    cookie = cookie_header(response.headers.get_list("set-cookie"))
    if response.status_code != 303 or "quartblog_auth=" not in cookie:
        log(f"site log-in as {email}: {response.status_code}, cookies {cookie!r}")
        return None
    return cookie


def run_wrk(url: str, *, duration: float, connections: int, threads: int, headers: list[str]) -> dict[str, Any]:
    done = subprocess.run(wrk_command(url, duration=duration, connections=connections, threads=threads,
                                      headers=headers), capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk_output(done.stdout)


def endpoint_request(endpoint: Endpoint, targets: dict[str, Any], creds: dict[str, str | None]
                     ) -> tuple[str, dict[str, str] | None]:
    """The endpoint's path and headers; headers None when its credentials are missing."""
    path = endpoint.path.format(**{k: targets.get(k) or "none" for k in ("slug", "tag", "deep_offset", "deep_page")})
    if endpoint.auth is None:
        return path, {}
    value = creds.get(endpoint.auth)
    if not value:
        return path, None
    return path, {"Authorization": f"Token {value}"} if endpoint.auth == "token" else {"Cookie": value}


def bench_endpoint(server: Server, endpoint: Endpoint, targets: dict[str, Any], creds: dict[str, str | None],
                   opts: Any) -> dict[str, Any]:
    """A probe (status and statements of the first request), a warm-up, a second probe, the
    measured wrk run, the workers' RSS after it."""
    path, headers = endpoint_request(endpoint, targets, creds)
    if headers is None:
        log(f"{endpoint.name}: skipped (no {endpoint.auth})")
        return {"name": endpoint.name, "path": path, "skipped": f"no {endpoint.auth}"}
    url = server.base_url + path
    lines = [f"{k}: {v}" for k, v in headers.items()]
    status, sql_cold, body = probe(url, headers)
    result: dict[str, Any] = {"name": endpoint.name, "path": path, "sql_statements_cold": sql_cold,
                              "body_bytes": len(body.encode())}
    if endpoint.auth == "cookie" and 'action="/logout"' not in body:
        log(f"{endpoint.name}: the page does not show a signed-in user")
    if opts.warmup > 0:
        run_wrk(url, duration=opts.warmup, connections=opts.connections, threads=opts.threads, headers=lines)
    status, sql, _ = probe(url, headers)
    result.update(status=status, sql_statements=sql)
    w = result["wrk"] = run_wrk(url, duration=opts.duration, connections=opts.connections, threads=opts.threads,
                                headers=lines)
    result["rss_after_kb"] = workers_rss_kb(server)
    log(f"{endpoint.name:<18} {w['rps']:>8,.0f} req/s  p99 {w['latency_ms']['p99'] or 0:.1f} ms  status {status}  "
        f"SQL {sql} (first {sql_cold})")
    return result


def soak(server: Server, endpoint: Endpoint, targets: dict[str, Any], creds: dict[str, str | None],
         opts: Any) -> dict[str, Any]:
    """``opts.soak_requests`` requests on one endpoint in wrk runs of ``opts.soak_chunk`` seconds,
    after a warm-up; the workers' RSS sampled after each run."""
    path, headers = endpoint_request(endpoint, targets, creds)
    url, lines = server.base_url + path, [f"{k}: {v}" for k, v in (headers or {}).items()]
    load = dict(connections=opts.connections, threads=opts.threads, headers=lines)
    run_wrk(url, duration=max(1.0, opts.warmup), **load)
    before = workers_rss_kb(server)
    samples, done, errors, started = [{"requests": 0, "rss_kb": before}], 0, 0, time.perf_counter()
    while done < opts.soak_requests:
        w = run_wrk(url, duration=opts.soak_chunk, **load)
        done, errors = done + w["requests"], errors + w["non_2xx"] + w["socket_errors"]
        samples.append({"requests": done, "rss_kb": workers_rss_kb(server)})
        log(f"soak: {done:,}/{opts.soak_requests:,} requests on {path}, RSS {(samples[-1]['rss_kb'] or 0) / 1024:.1f} MB")
    after = samples[-1]["rss_kb"]
    return {"endpoint": endpoint.name, "path": path, "requests": done, "errors": errors,
            "seconds": time.perf_counter() - started, "rss_before_kb": before, "rss_after_kb": after,
            "rss_growth_pct": growth_pct(before, after), "samples": samples}


# --------------------------------------------------------------------------- the writing mix

# Each writer's cycle: 5 comments, 2 favorites and 2 unfavorites of the newest posts, 1 new post.
CYCLE = ("favorite", "comment", "unfavorite", "comment", "favorite", "comment", "unfavorite", "comment",
         "post", "comment")


async def _writer(client: httpx.AsyncClient, token: str, n: int, slugs: list[str], rate: float,
                  until: float, samples: list[tuple[str, int, float]]) -> None:
    """One API user writing at ``rate`` requests/s (one request in flight at a time)."""
    headers = {"Authorization": f"Token {token}"}
    slot = time.perf_counter()
    for i, kind in enumerate(itertools.cycle(CYCLE)):
        slot += 1.0 / rate
        if slot >= until:
            return
        slug = slugs[(n * 7 + i // 4) % len(slugs)]  # favorite and unfavorite the same post
        if kind == "comment":
            request = ("POST", f"/api/articles/{slug}/comments", {"comment": {"body": f"Bench comment {i} by {n}."}})
        elif kind == "post":
            request = ("POST", "/api/articles", {"article": {
                "title": f"Bench post {uuid.uuid4().hex[:10]}", "description": "Written during the benchmark",
                "body": "A *short* post.\n\nWith two paragraphs.", "tagList": ["bench"]}})
        else:
            request = ("POST" if kind == "favorite" else "DELETE", f"/api/articles/{slug}/favorite", None)
        started = time.perf_counter()
        try:
            status = (await client.request(request[0], request[1], json=request[2], headers=headers)).status_code
        except httpx.HTTPError:
            status = 0
        samples.append((kind, status, (time.perf_counter() - started) * 1000.0))
        await asyncio.sleep(max(0.0, slot - time.perf_counter()))


async def _mix(server: Server, tokens: list[str], slugs: list[str], opts: Any,
               reads: list[tuple[str, str]]) -> dict[str, Any]:
    procs = [await asyncio.create_subprocess_exec(
        *wrk_command(server.base_url + path, duration=opts.mix_seconds,
                     connections=max(1, opts.connections // len(reads)), threads=1),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE) for _, path in reads]
    samples: list[tuple[str, int, float]] = []
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        await asyncio.gather(*(_writer(client, token, n, slugs, opts.write_rate / len(tokens),
                                       started + opts.mix_seconds, samples) for n, token in enumerate(tokens)))
    seconds = time.perf_counter() - started
    out = [await p.communicate() for p in procs]
    return {"writes": summarize_writes(samples, seconds),
            "reads": [{"name": name, "path": path, "wrk": parse_wrk_output(stdout.decode())}
                      for (name, path), (stdout, _) in zip(reads, out)]}


def writing_mix(server: Server, tokens: list[str], targets: dict[str, Any], opts: Any) -> dict[str, Any]:
    """Several API users writing at ``opts.write_rate`` writes/s in all (comments, favorites,
    unfavorites, new posts) for ``opts.mix_seconds``, while wrk reads the home page and
    /api/articles?limit=20 at once."""
    log(f"writing mix: {len(tokens)} writers, {opts.write_rate:g} writes/s, {opts.mix_seconds:g} s, "
        "wrk on / and /api/articles?limit=20 meanwhile")
    return asyncio.run(_mix(server, tokens, targets["newest"], opts,
                            [("home", "/"), ("api_articles", "/api/articles?limit=20")]))
