"""The local stack: a private PostgreSQL + TimescaleDB cluster and a TLS-only Mosquitto.

``nabd stack up`` runs both from one state folder on free local ports, next to (never instead
of) the machine's own services, so a developer and the test suite get the same real services
that production uses. The modules are small on purpose: ``layout`` says where every file lives,
``state`` what was chosen (ports, secrets), ``postgres``/``mosquitto`` drive one server each,
``lifecycle`` strings them together. Import the submodules directly: this package imports
nothing heavy so that ``nabd --help`` works without the ``stack`` extra.
"""
