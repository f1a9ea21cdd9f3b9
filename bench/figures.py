"""The benchmark's pure parts: endpoints, wrk's output, the tables and the targets of issue 9.
No server, no database, no wrk here (bench/tests/ tests all of it)."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, Iterable, Sequence

LUA_SCRIPT = Path(__file__).resolve().parent / "report.lua"
JSON_MARKER = "QUARTBLOG_BENCH_JSON "

# Targets of issue 9 (2-core machine, 1 worker). Shares are of /healthz's req/s in the same run.
SHARE_CACHE_ON = 90.0       # cache on: every anonymous endpoint
TARGET_P99_MS = 100.0       # cache off: every endpoint
TARGET_DEEP_RATIO = 1.2     # cache off: deep page p50 / first page p50
TARGET_MAX_SQL = 4          # cache off: statements per request
TARGET_RSS_GROWTH = 10.0    # cache off: % over the soak (100,000 requests)
SITE_COOKIES = ("session", "quartblog_auth")


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str                   # may hold {slug}, {tag}, {deep_offset}, {deep_page}
    auth: str | None = None     # "token": Authorization header; "cookie": signed in on the site
    share: float | None = None  # cache off: req/s >= this % of /healthz
    deep_of: str | None = None  # the first page whose p50 this deep page is held to


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("healthz", "/healthz"),
    Endpoint("api_articles", "/api/articles?limit=20", share=35),
    Endpoint("api_articles_deep", "/api/articles?limit=20&offset={deep_offset}", deep_of="api_articles"),
    Endpoint("home", "/", share=35),
    Endpoint("home_signed_in", "/", auth="cookie", share=35),
    Endpoint("home_deep", "/?page={deep_page}", deep_of="home"),
    Endpoint("tag", "/tags/{tag}", share=35),
    Endpoint("api_feed", "/api/articles/feed", auth="token", share=35),
    Endpoint("post", "/posts/{slug}", share=50),
    Endpoint("api_article", "/api/articles/{slug}", share=50),
    Endpoint("api_comments", "/api/articles/{slug}/comments", share=50),
    Endpoint("api_tags", "/api/tags", share=50),
    Endpoint("feed_atom", "/feed.atom", share=50),
)
ENDPOINT_NAMES = tuple(e.name for e in ENDPOINTS)
BY_NAME = {e.name: e for e in ENDPOINTS}


def select_endpoints(only: str | None) -> list[Endpoint]:
    """The endpoints named in ``--only`` (comma-separated), in the canonical order."""
    if not only:
        return list(ENDPOINTS)
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in ENDPOINT_NAMES]
    if unknown:
        raise ValueError(f"unknown endpoint(s): {', '.join(unknown)}; known: {', '.join(ENDPOINT_NAMES)}")
    return [e for e in ENDPOINTS if e.name in wanted]


def split_choices(value: str, allowed: Sequence[str]) -> list[str]:
    """``"a,b"`` -> ``["a", "b"]``, each one of ``allowed`` (ValueError otherwise)."""
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items or set(items) - set(allowed):
        raise ValueError(f"{value!r}: choose from {', '.join(allowed)}")
    return items


# --------------------------------------------------------------------------- wrk, /proc, HTTP

def parse_wrk_output(stdout: str) -> dict[str, Any]:
    """The JSON line that bench/report.lua prints in wrk's done(): requests/s, latencies in ms."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(JSON_MARKER):
            raw = json.loads(line[len(JSON_MARKER):])
            break
    else:
        raise ValueError("no " + JSON_MARKER.strip() + " line in wrk's output:\n" + stdout[-2000:])
    duration_s = raw["duration_us"] / 1e6
    errors = raw["errors"]
    return {
        "requests": raw["requests"], "duration_s": duration_s,
        "rps": raw["requests"] / duration_s if duration_s > 0 else 0.0, "bytes": raw["bytes"],
        "latency_ms": {k: None if v is None or not raw["requests"] else v / 1000.0  # none: no latency
                       for k, v in raw["latency_us"].items()},
        "non_2xx": errors["status"],
        "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        "errors": errors,
    }


def wrk_command(url: str, *, duration: float, connections: int, threads: int,
                headers: Iterable[str] = (), timeout: str = "10s") -> list[str]:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", f"--timeout={timeout}",
           "-s", str(LUA_SCRIPT)]
    for header in headers:
        cmd += ["-H", header]
    return cmd + [url]


def parse_vmrss_kb(status_text: str) -> int | None:
    """VmRSS (kB) from the text of /proc/<pid>/status."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def csrf_from_form(html: str) -> str | None:
    """The CSRF token of the first form of a page (``<input name="csrf_token" value=...>``)."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    return match.group(1) if match else None


def cookie_header(set_cookies: Iterable[str], names: Sequence[str] = SITE_COOKIES) -> str:
    """A ``Cookie`` header value from ``Set-Cookie`` headers, keeping ``names`` (the last value wins)."""
    jar: dict[str, str] = {}
    for line in set_cookies:
        parsed = SimpleCookie()
        parsed.load(line)
        jar.update({k: m.value for k, m in parsed.items() if k in names})
    return "; ".join(f"{k}={jar[k]}" for k in names if k in jar)


# --------------------------------------------------------------------------- figures

def pct_of(value: float | None, reference: float | None) -> float | None:
    return None if value is None or not reference else 100.0 * value / reference


def growth_pct(before: int | None, after: int | None) -> float | None:
    return None if not before or after is None else 100.0 * (after - before) / before


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (``pct`` in 0..100) of ``values``; None when empty."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100.0 * len(ordered)) - 1)] if ordered else None


def add_healthz_share(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Fill each result's ``pct_healthz`` (req/s) and ``p50_x_healthz`` (p50 / healthz's p50);
    returns /healthz's wrk figures (None when it was not run)."""
    ceiling = next((r["wrk"] for r in results if r["name"] == "healthz" and r.get("wrk")), None)
    for r in results:
        if r.get("wrk") and ceiling:
            r["pct_healthz"] = pct_of(r["wrk"]["rps"], ceiling["rps"])
            p50, hz = r["wrk"]["latency_ms"].get("p50"), ceiling["latency_ms"].get("p50")
            r["p50_x_healthz"] = p50 / hz if p50 is not None and hz else None
    return ceiling


def _fmt(value: Any, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


COLUMNS = (  # header, key, format
    ("endpoint", "name", ""), ("status", "status", ""), ("req/s", "rps", ",.0f"),
    ("% healthz", "pct_healthz", ".0f"), ("p50 ms", "p50", ".1f"), ("p50 x hz", "p50_x_healthz", ".1f"),
    ("p99 ms", "p99", ".1f"), ("max ms", "max", ".1f"), ("non-2xx", "non_2xx", ""),
    ("SQL/req", "sql", ""), ("SQL 1st", "sql_cold", ""), ("RSS MB", "rss_mb", ".1f"),
)


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """A plain-text table, one line per endpoint ('-' for a figure that is missing)."""
    cells = [[h for h, _, _ in COLUMNS]]
    for r in results:
        wrk, rss = r.get("wrk") or {}, r.get("rss_after_kb")
        row = {**r, **(wrk.get("latency_ms") or {}), "rps": wrk.get("rps"), "sql": r.get("sql_statements"),
               "non_2xx": wrk["non_2xx"] + wrk["socket_errors"] if wrk else None,
               "sql_cold": r.get("sql_statements_cold"), "rss_mb": None if rss is None else rss / 1024.0}
        cells.append([_fmt(row.get(key), spec) for _, key, spec in COLUMNS])
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    out = []
    for n, line in enumerate(cells):
        out.append("  ".join(text.ljust(w) if i == 0 else text.rjust(w)
                             for i, (text, w) in enumerate(zip(line, widths))).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def check_targets(results: Sequence[dict[str, Any]], *, cache: bool,
                  soak: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The targets of issue 9 that these figures allow to check: target, value, limit, ok.
    Cache off: shares (35%/50%), deep pages, p99, statements, soak. Cache on: anonymous >= 90%."""
    by_name = {r["name"]: r for r in results if r.get("wrk")}
    checks: list[dict[str, Any]] = []

    def add(target: str, value: float | None, limit: float, ok: bool) -> None:
        checks.append({"target": target, "value": value, "limit": limit, "ok": ok})

    for r in results:
        name, wrk, share = r["name"], r.get("wrk"), r.get("pct_healthz")
        endpoint = BY_NAME.get(name)
        if wrk is None or endpoint is None:
            continue
        limit = (SHARE_CACHE_ON if endpoint.auth is None else None) if cache else endpoint.share
        if name != "healthz" and limit is not None and "healthz" in by_name:
            add(f"{name}: req/s >= {limit:.0f}% of healthz", share, limit, share is not None and share >= limit)
        if not cache:
            p99 = wrk["latency_ms"].get("p99")
            add(f"{name}: p99 < {TARGET_P99_MS:.0f} ms", p99, TARGET_P99_MS, p99 is not None and p99 < TARGET_P99_MS)
            counts = [c for c in (r.get("sql_statements"), r.get("sql_statements_cold")) if c is not None]
            if counts:  # the first (cold) request counts as well as a warm one
                add(f"{name}: <= {TARGET_MAX_SQL} SQL statements per request", max(counts), TARGET_MAX_SQL,
                    max(counts) <= TARGET_MAX_SQL)
            first = by_name.get(endpoint.deep_of or "")
            if first:
                a, b = wrk["latency_ms"].get("p50"), first["wrk"]["latency_ms"].get("p50")
                ratio = a / b if a and b else None
                add(f"{name}: p50 <= {TARGET_DEEP_RATIO}x {endpoint.deep_of}'s", ratio, TARGET_DEEP_RATIO,
                    ratio is not None and ratio <= TARGET_DEEP_RATIO)
        bad = wrk["non_2xx"] + wrk["socket_errors"]
        if bad or not 200 <= (r.get("status") or 200) < 300:
            add(f"{name}: only 2xx responses, no socket errors", bad, 0, False)
    if soak and soak.get("rss_growth_pct") is not None:
        add(f"soak ({soak['endpoint']}, {soak['requests']:,} requests): RSS growth < {TARGET_RSS_GROWTH:.0f}%",
            soak["rss_growth_pct"], TARGET_RSS_GROWTH, soak["rss_growth_pct"] < TARGET_RSS_GROWTH)
    return checks


def format_checks(checks: Sequence[dict[str, Any]]) -> str:
    lines = []
    for c in checks:
        value = c["value"]
        shown = "-" if value is None else (f"{value:.2f}" if isinstance(value, float) else str(value))
        lines.append(f"  [{'PASS' if c['ok'] else 'MISS'}] {c['target']}: {shown}")
    missed = sum(1 for c in checks if not c["ok"])
    lines.append(f"  {len(checks) - missed}/{len(checks)} targets met")
    return "\n".join(lines)


def summarize_writes(samples: Sequence[tuple[str, int, float]], seconds: float) -> dict[str, Any]:
    """The writing mix's figures from (kind, status, latency ms) samples over ``seconds``."""
    latencies = [ms for _, _, ms in samples]
    kinds = dict(Counter(kind for kind, _, _ in samples))
    return {"writes": len(samples), "seconds": seconds, "wps": len(samples) / seconds if seconds > 0 else 0.0,
            "p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
            "max": max(latencies) if latencies else None,
            "non_2xx": sum(1 for _, status, _ in samples if not 200 <= status < 300), "kinds": kinds}


def format_writes(w: dict[str, Any]) -> str:
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(w["kinds"].items()))
    return (f"writes: {w['wps']:.1f}/s ({w['writes']} in {w['seconds']:.1f} s: {kinds}), "
            f"p50 {_fmt(w['p50'], '.1f')} ms, p99 {_fmt(w['p99'], '.1f')} ms, max {_fmt(w['max'], '.1f')} ms, "
            f"non-2xx {w['non_2xx']}")
