"""nabd.simulators."""
