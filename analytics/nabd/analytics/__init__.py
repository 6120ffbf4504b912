"""nabd.analytics."""
