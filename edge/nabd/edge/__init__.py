"""nabd.edge."""
