"""The analytics service: the shell that feeds ``nabd.analytics`` and keeps alerts in the database.

See docs/analytics.md, "Service".
"""
