"""Bluetooth: bleak's public API on BlueZ or on the bumble backend, the central and sessions."""
