"""The queue worker: a second lab service built differently from the target, seen only through /metrics.

Jobs wait in a SQLite queue file, ordered per partition; consumer threads process the heads of the
partitions. It exposes client_python's process and runtime metrics, OpenTelemetry-named messaging and
HTTP metrics, and queue gauges, scraped by Prometheus at `GET /metrics`.
"""
