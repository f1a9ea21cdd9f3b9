"""The benchmark harness's pure parts (bench/figures.py, the options of bench/run.py, the server's
environment): no wrk, no server, no database. Outside the main suite's testpaths; run them with
``python -m pytest bench/tests`` (docs/performance.md)."""

from __future__ import annotations

import json

import pytest

from bench import figures, run, stack

pytestmark = pytest.mark.bench

# What bench/report.lua prints in wrk's done() callback, amid wrk's own summary.
WRK_STDOUT = """Running 3s test @ http://127.0.0.1:8000/
  2 threads and 32 connections
Requests/sec:   1000.00
QUARTBLOG_BENCH_JSON {"requests":3000,"duration_us":3000000,"bytes":1048576,"errors":{"connect":0,"read":1,"write":0,"status":7,"timeout":2},"latency_us":{"min":900.000,"max":80000.000,"mean":20120.000,"stdev":5010.000,"p50":19000.000,"p75":22000.000,"p90":25500.000,"p99":41000.000,"p999":70000.000}}
"""


def result(name, rps, p50=10.0, p99=20.0, sql=1, sql_cold=None, status=200, non_2xx=0):
    return {"name": name, "status": status, "sql_statements": sql,
            "sql_statements_cold": sql if sql_cold is None else sql_cold, "rss_after_kb": 102400,
            "wrk": {"rps": rps, "non_2xx": non_2xx, "socket_errors": 0,
                    "latency_ms": {"p50": p50, "p99": p99, "max": p99 * 2}}}


def test_parse_wrk_output():
    parsed = figures.parse_wrk_output(WRK_STDOUT)
    assert (parsed["requests"], parsed["non_2xx"], parsed["socket_errors"]) == (3000, 7, 3)  # read + timeout
    assert parsed["rps"] == pytest.approx(1000.0)
    assert parsed["latency_ms"]["p50"] == pytest.approx(19.0)
    assert parsed["latency_ms"]["p99"] == pytest.approx(41.0)
    assert parsed["latency_ms"]["max"] == pytest.approx(80.0)


def test_parse_wrk_output_without_requests_or_line():
    # no request finished (a server slower than the run): no latency at all, not 0 ms
    line = WRK_STDOUT.splitlines()[-1].replace('"requests":3000', '"requests":0')
    assert set(figures.parse_wrk_output(line)["latency_ms"].values()) == {None}
    with pytest.raises(ValueError, match="QUARTBLOG_BENCH_JSON"):
        figures.parse_wrk_output("Running 3s test\nRequests/sec: 10\n")


def test_lua_script_prints_the_marker_the_parser_reads():
    lua = figures.LUA_SCRIPT.read_text()
    assert figures.JSON_MARKER.strip() in lua
    for key in ("p50", "p99", "max", "status", "duration_us"):
        assert f'"{key}"' in lua


def test_wrk_command():
    cmd = figures.wrk_command("http://127.0.0.1:1/", duration=3, connections=32, threads=2,
                              headers=["Cookie: session=a; quartblog_auth=b"])
    assert cmd[:4] == ["wrk", "-t2", "-c32", "-d3s"]
    assert cmd[cmd.index("-H") + 1] == "Cookie: session=a; quartblog_auth=b"
    assert cmd[cmd.index("-s") + 1].endswith("report.lua") and cmd[-1] == "http://127.0.0.1:1/"


def test_endpoints_of_issue_9():
    by_name = figures.BY_NAME
    assert by_name["home_signed_in"].auth == "cookie" and by_name["api_feed"].auth == "token"
    assert {n for n, e in by_name.items() if e.share == 35} == {
        "api_articles", "home", "home_signed_in", "tag", "api_feed"}
    assert {n for n, e in by_name.items() if e.share == 50} == {
        "post", "api_article", "api_comments", "api_tags", "feed_atom"}
    assert {n: e.deep_of for n, e in by_name.items() if e.deep_of} == {
        "api_articles_deep": "api_articles", "home_deep": "home"}
    assert [e.name for e in figures.select_endpoints("home, healthz")] == ["healthz", "home"]
    with pytest.raises(ValueError, match="nope"):
        figures.select_endpoints("healthz,nope")


def test_site_log_in_helpers():
    html = '<form method="post"><input type="hidden" name="csrf_token" value="tok-123"><input name="email">'
    assert figures.csrf_from_form(html) == "tok-123"
    assert figures.csrf_from_form("<p>no form</p>") is None
    set_cookies = ["session=old; HttpOnly; Path=/; Secure", "lang=zh; Path=/",
                   "session=new; HttpOnly; Path=/; SameSite=Lax", "quartblog_auth=abc.def; Secure; HttpOnly; Path=/"]
    assert figures.cookie_header(set_cookies) == "session=new; quartblog_auth=abc.def"


def test_table_shows_shares_of_healthz():
    results = [result("healthz", 10_000.0, p50=2.0, sql=0), result("home", 4_500.0, sql=3, sql_cold=5),
               {"name": "api_feed", "skipped": "no token"}]
    assert figures.add_healthz_share(results)["rps"] == 10_000.0
    lines = figures.format_table(results).splitlines()
    assert lines[0].split()[:3] == ["endpoint", "status", "req/s"]
    for column in ("% healthz", "p50 x hz", "p99 ms", "max ms", "SQL/req", "RSS MB"):
        assert column in lines[0]
    assert set(lines[1]) <= {"-", " "} and len({len(line) for line in lines[:2]}) == 1
    home = lines[3].split()
    assert home[:7] == ["home", "200", "4,500", "45", "10.0", "5.0", "20.0"]  # p50 5x healthz's
    assert home[-3:] == ["3", "5", "100.0"]
    assert lines[4].split()[0] == "api_feed" and set(lines[4].split()[1:]) == {"-"}


def test_targets_with_the_cache_off():
    results = [result("healthz", 10_000.0, sql=0), result("home", 4_000.0, p50=10.0),
               result("home_deep", 2_500.0, p50=13.0),                 # 1.3x home's p50
               result("api_articles", 3_000.0, sql=3, sql_cold=5),     # 30% < 35%; 5 statements cold
               result("api_tags", 6_000.0, p99=120.0, non_2xx=3)]      # 60% >= 50%; p99, errors
    figures.add_healthz_share(results)
    soak = {"endpoint": "home", "requests": 100_000, "rss_growth_pct": 4.0}
    checks = {c["target"]: c["ok"] for c in figures.check_targets(results, cache=False, soak=soak)}
    assert checks["home: req/s >= 35% of healthz"] is True
    assert checks["home_deep: p50 <= 1.2x home's"] is False
    assert checks["api_articles: req/s >= 35% of healthz"] is False
    assert checks["api_articles: <= 4 SQL statements per request"] is False
    assert checks["api_tags: req/s >= 50% of healthz"] is True
    assert checks["api_tags: p99 < 100 ms"] is False
    assert checks["api_tags: only 2xx responses, no socket errors"] is False
    assert checks["soak (home, 100,000 requests): RSS growth < 10%"] is True
    assert not any(t.startswith("home_deep: req/s") or t.startswith("healthz: req/s") for t in checks)
    summary = figures.format_checks(figures.check_targets(results, cache=False))
    assert "[MISS] home_deep: p50 <= 1.2x home's: 1.30" in summary
    assert summary.splitlines()[-1].strip().endswith("targets met")


def test_targets_with_the_cache_on_are_anonymous_shares_only():
    results = [result("healthz", 10_000.0), result("home", 9_500.0, p99=500.0),
               result("home_signed_in", 1_000.0), result("api_feed", 1_000.0), result("tag", 8_000.0)]
    figures.add_healthz_share(results)
    checks = {c["target"]: c["ok"] for c in figures.check_targets(results, cache=True)}
    assert checks == {"home: req/s >= 90% of healthz": True, "tag: req/s >= 90% of healthz": False}


def test_writing_mix_figures():
    samples = [("comment", 201, float(ms)) for ms in range(1, 99)] + [("post", 201, 500.0), ("favorite", 500, 2.0)]
    w = figures.summarize_writes(samples, 10.0)
    assert (w["writes"], w["wps"], w["non_2xx"], w["max"]) == (100, 10.0, 1, 500.0)
    assert (w["p50"], w["p99"]) == (49.0, 98.0)  # nearest rank of 1, 2, 2, 3 .. 98, 500
    assert w["kinds"] == {"comment": 98, "post": 1, "favorite": 1}
    assert "writes: 10.0/s" in figures.format_writes(w) and "non-2xx 1" in figures.format_writes(w)
    assert figures.percentile([], 50) is None


def test_args_defaults_and_quick():
    args = run.parse_args([])
    assert (args.dbs, args.caches) == (["mariadb", "postgresql"], [False, True])  # cache off first
    assert (args.users, args.posts, args.comments, args.driver) == (1000, 20_000, 100_000, "asyncmy")
    assert len(args.endpoints) == len(figures.ENDPOINTS) and args.mix_seconds == args.duration
    args = run.parse_args(["--quick", "--duration", "5", "--db", "postgresql", "--cache", "on"])
    assert (args.posts, args.warmup, args.duration) == (2000, 1, 5)  # explicit options win
    assert (args.dbs, args.caches) == (["postgresql"], [True])
    with pytest.raises(SystemExit):
        run.parse_args(["--db", "oracle"])


def test_databases_and_server_environment():
    pg = stack.make_database("postgresql", "qb")
    assert pg.url == "postgresql+asyncpg://postgres@127.0.0.1:5432/qb" and pg.backend == "postgresql/asyncpg"
    assert stack.make_database("mariadb", "qb", driver="aiomysql").backend == "mariadb/aiomysql"
    env = stack.server_env(pg.url, cache=False, port=8123, extra=["QUARTBLOG_DB_POOL_SIZE=30"])
    assert env["QUARTBLOG_ENV"] == "production" and len(env["QUARTBLOG_SECRET_KEY"]) >= 32
    assert env["QUARTBLOG_SITE_URL"] == "http://127.0.0.1:8123"
    assert (env["QUARTBLOG_DATABASE_URL"], env["QUARTBLOG_SQL_COUNT_HEADER"]) == (pg.url, "1")
    assert env["QUARTBLOG_CACHE_ENABLED"] == "0" and env["QUARTBLOG_DB_POOL_SIZE"] == "30"
    assert stack.server_env(pg.url, cache=True, port=1)["QUARTBLOG_CACHE_ENABLED"] == "1"
    assert json.dumps(env)
