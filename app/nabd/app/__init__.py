"""nabd.app."""
