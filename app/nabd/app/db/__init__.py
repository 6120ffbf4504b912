"""The database schema of Nabd: versioned SQL migrations and the runner that applies them."""
