"""nabd.dashboards."""
