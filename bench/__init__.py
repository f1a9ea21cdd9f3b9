"""The benchmark harness (python bench/run.py; docs/performance.md)."""
