"""nabd.dashboards: the Grafana dashboards nurses and operators watch, built as code.

Every dashboard is built with Grafana's own SDK (``grafana-foundation-sdk``) in English and
French; :mod:`~nabd.dashboards.registry` lists them, :mod:`~nabd.dashboards.provisioning`
writes Grafana provisioning files, :mod:`~nabd.dashboards.deploy` pushes them to a running
Grafana, and :mod:`~nabd.dashboards.macros` expands Grafana's SQL macros so the tests can run
every panel's query against TimescaleDB. See docs/dashboards.md.
"""
