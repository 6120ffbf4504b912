"""The nurse station: a web page where nurses see their ward and act on alerts (``nabd web run``).

Server-rendered HTML (Jinja2 templates, a few lines of vanilla JavaScript for the board's refresh
and the alert cue, no build step), served over HTTPS by uvicorn. What a user sees is decided by
the database: every read runs under her own role, scoped by the per-ward row-level security
(see :mod:`nabd.station.scope` and docs/station.md).
"""
