"""The benchmark harness's pure parts (bench/run.py): no wrk, no server, no database."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load():
    spec = importlib.util.spec_from_file_location("quartblog_bench_run", BENCH / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


bench = _load()

# What bench/report.lua prints in wrk's done() callback, amid wrk's own summary.
WRK_STDOUT = """Running 3s test @ http://127.0.0.1:8000/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    20.12ms    5.01ms  80.00ms   90.00%
  3000 requests in 3.00s, 1.00MB read
  Non-2xx or 3xx responses: 7
Requests/sec:   1000.00
QUARTBLOG_BENCH_JSON {"requests":3000,"duration_us":3000000,"bytes":1048576,"errors":{"connect":0,"read":1,"write":0,"status":7,"timeout":2},"latency_us":{"min":900.000,"max":80000.000,"mean":20120.000,"stdev":5010.000,"p50":19000.000,"p75":22000.000,"p90":25500.000,"p99":41000.000,"p999":70000.000}}
"""


def result(name, rps, p50=10.0, p99=20.0, sql=1, sql_cold=None, status=200, non_2xx=0):
    return {
        "name": name, "status": status, "sql_statements": sql,
        "sql_statements_cold": sql if sql_cold is None else sql_cold, "rss_after_kb": 102400,
        "wrk": {"rps": rps, "non_2xx": non_2xx, "socket_errors": 0,
                "latency_ms": {"p50": p50, "p90": p50 * 1.5, "p99": p99}},
    }


def test_parse_wrk_output():
    parsed = bench.parse_wrk_output(WRK_STDOUT)
    assert parsed["requests"] == 3000
    assert parsed["duration_s"] == pytest.approx(3.0)
    assert parsed["rps"] == pytest.approx(1000.0)
    assert parsed["latency_ms"]["p50"] == pytest.approx(19.0)
    assert parsed["latency_ms"]["p90"] == pytest.approx(25.5)
    assert parsed["latency_ms"]["p99"] == pytest.approx(41.0)
    assert parsed["non_2xx"] == 7
    assert parsed["socket_errors"] == 3  # read + timeout


def test_parse_wrk_output_null_latency_and_missing_line():
    line = WRK_STDOUT.splitlines()[-1].replace('"p99":41000.000', '"p99":null')
    assert bench.parse_wrk_output(line)["latency_ms"]["p99"] is None
    with pytest.raises(ValueError, match="QUARTBLOG_BENCH_JSON"):
        bench.parse_wrk_output("Running 3s test\nRequests/sec: 10\n")


def test_lua_script_prints_the_marker_the_parser_reads():
    lua = (BENCH / "report.lua").read_text()
    assert "done = function(summary, latency, requests)" in lua
    assert bench.JSON_MARKER.strip() in lua
    for key in ("p50", "p90", "p99", "status", "duration_us"):
        assert f'"{key}"' in lua


def test_parse_vmrss():
    status = "Name:\tpython\nVmPeak:\t  200000 kB\nVmRSS:\t   91234 kB\nThreads:\t3\n"
    assert bench.parse_vmrss_kb(status) == 91234
    assert bench.parse_vmrss_kb("Name:\tkthreadd\n") is None


def test_percentages():
    assert bench.pct_of(250, 1000) == pytest.approx(25.0)
    assert bench.pct_of(250, None) is None
    assert bench.growth_pct(100_000, 108_000) == pytest.approx(8.0)
    assert bench.growth_pct(None, 5) is None


def test_select_endpoints_keeps_canonical_order():
    assert [e.name for e in bench.select_endpoints("home, healthz")] == ["healthz", "home"]
    assert len(bench.select_endpoints(None)) == len(bench.ENDPOINTS)
    with pytest.raises(ValueError, match="nope"):
        bench.select_endpoints("healthz,nope")


def test_endpoints_of_the_issue():
    paths = {e.name: e.path for e in bench.ENDPOINTS}
    assert paths["home_p1000"] == "/?page=1000"
    assert paths["api_articles_deep"] == "/api/articles?limit=20&offset=19000"
    assert [e.name for e in bench.ENDPOINTS if e.auth] == ["api_feed"]


def test_table_has_a_column_per_figure_and_a_row_per_endpoint():
    results = [result("healthz", 10_000.0, sql=0), result("home", 4_500.0, sql=3, sql_cold=5),
               {"name": "api_feed", "skipped": "no token"}]
    assert bench.add_healthz_share(results) == 10_000.0
    text = bench.format_table(results)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["endpoint", "status", "req/s"]
    assert "% healthz" in lines[0] and "p99 ms" in lines[0] and "SQL/req" in lines[0]
    assert set(lines[1]) <= {"-", " "}
    assert len(lines) == 2 + 3
    home = lines[3].split()
    assert home[:4] == ["home", "200", "4,500", "45"]
    assert home[-3:] == ["3", "5", "100.0"]  # SQL/req, SQL of the first request, RSS MB
    assert lines[4].split()[0] == "api_feed" and set(lines[4].split()[1:]) == {"-"}
    # columns line up: every line as wide as the header's separator
    assert len({len(line) for line in lines[:2]}) == 1


def test_check_targets():
    results = [
        result("healthz", 10_000.0, sql=0),
        result("home", 4_500.0, p50=10.0),                       # 45%: meets 40%
        result("home_p1000", 2_500.0, p50=16.0),                 # 1.6x home's p50: fails
        result("api_articles", 3_000.0, sql=3, sql_cold=5),      # 30% < 40%; 5 statements cold
        result("api_tags", 2_500.0, p99=60.0, non_2xx=3),        # p99 too high, errors
    ]
    bench.add_healthz_share(results)
    checks = {c["target"]: c["ok"] for c in bench.check_targets(
        results, {"endpoint": "home", "requests": 100_000, "rss_growth_pct": 4.0})}
    assert checks["home: req/s >= 40% of healthz"] is True
    assert checks["home_p1000: req/s >= 20% of healthz"] is True
    assert checks["home_p1000: p50 <= 1.5x home's"] is False
    assert checks["api_articles: req/s >= 40% of healthz"] is False
    assert checks["api_articles: <= 4 SQL statements per request"] is False
    assert checks["api_tags: p99 < 50 ms"] is False
    assert checks["api_tags: only 2xx responses, no socket errors"] is False
    assert checks["soak (home, 100,000 requests): RSS growth < 10%"] is True
    assert "healthz: req/s >= 20% of healthz" not in checks
    summary = bench.format_checks(bench.check_targets(results))
    assert "FAIL" in summary and summary.splitlines()[-1].strip().endswith("targets met")


def test_wrk_command():
    cmd = bench.wrk_command("http://127.0.0.1:1/api/articles/feed", duration=3, connections=32, threads=2,
                            headers=["Authorization: Token abc"])
    assert cmd[:4] == ["wrk", "-t2", "-c32", "-d3s"]
    assert cmd[cmd.index("-H") + 1] == "Authorization: Token abc"
    assert cmd[cmd.index("-s") + 1].endswith("report.lua")
    assert cmd[-1] == "http://127.0.0.1:1/api/articles/feed"


def test_args_defaults_and_reuse():
    args = bench.parse_args([])
    assert (args.connections, args.threads, args.workers, args.driver) == (32, 2, 1, "asyncmy")
    assert (args.users, args.posts, args.comments, args.tags) == (1000, 20_000, 100_000, 50)
    assert args.soak is None and not args.skip_seed
    args = bench.parse_args(["--reuse-db", "qb_x", "--soak", "--only", "home"])
    assert args.skip_seed and args.db_name == "qb_x" and args.soak == "home"
    assert [e.name for e in args.endpoints] == ["home"]


def test_server_env_is_production_with_sql_counts(monkeypatch):
    args = bench.parse_args(["--no-cache", "--env", "QUARTBLOG_DB_POOL_SIZE=20"])
    db = bench.BenchDatabase(url="mysql+asyncmy://root@127.0.0.1:3306/qb?charset=utf8mb4")
    env = bench.server_env(db, args)
    assert env["QUARTBLOG_ENV"] == "production"
    assert len(env["QUARTBLOG_SECRET_KEY"]) >= 32
    assert env["QUARTBLOG_DATABASE_URL"] == db.url
    assert env["QUARTBLOG_SQL_COUNT_HEADER"] == "1"
    assert env["QUARTBLOG_CACHE_ENABLED"] == "0"
    assert env["QUARTBLOG_DB_POOL_SIZE"] == "20"
    assert json.dumps(env)  # plain strings only
