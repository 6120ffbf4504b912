"""nabd.contract."""
