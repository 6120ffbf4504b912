"""The nurse station next to the demo's terminal view: ``nabd web run`` as one more supervised
process, and a sign-in for this run only.

The demo creates a charge nurse of its ward (``demo-XXXXXX``) with a random password, prints
both once with the station's URL, and disables her when the demo ends: the credentials are
worth nothing afterwards. She is a charge nurse, not an admin, so the ward the demo plays (and
counts in its summary) cannot be discharged from under it; admins are made with
``nabd web user add``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import psycopg

from nabd.app.demo.supervise import Supervisor, nabd_command
from nabd.app.stack.env import WEB_TLS_CERT_FILE, WEB_TLS_KEY_FILE, service_database_url_var
from nabd.station.users import Language, NewUser, Role, add_user

__all__ = ["DemoStation", "close_station", "open_station", "station_environment"]

NAME: Final = "station"
_BY: Final = "nabd demo"


@dataclass(frozen=True)
class DemoStation:
    url: str
    user: str
    password: str

    def line(self) -> str:
        return (
            f"demo: nurse station {self.url} (sign in as {self.user},"
            f" password {self.password}; valid for this run only)"
        )


def station_environment(env: Mapping[str, str], port: int) -> dict[str, str]:
    """Only the station's own login, its certificate and the port: least privilege."""
    return {
        service_database_url_var("station"): env[service_database_url_var("station")],
        WEB_TLS_CERT_FILE: env[WEB_TLS_CERT_FILE],
        WEB_TLS_KEY_FILE: env[WEB_TLS_KEY_FILE],
        "NABD_WEB_HOST": "127.0.0.1",
        "NABD_WEB_PORT": str(port),
    }


def open_station(
    supervisor: Supervisor, env: Mapping[str, str], owner_url: str, ward: str, port: int
) -> DemoStation:
    """Create this run's sign-in and start ``nabd web run`` on ``port``."""
    user = f"demo-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(12)
    with psycopg.connect(owner_url, autocommit=True) as conn:
        add_user(
            conn,
            NewUser(name=user, display_name="Demo nurse", role=Role.CHARGE_NURSE,
                    wards=(ward,), password=password, lang=Language.EN, sees_identity=True),
            by=_BY,
        )  # fmt: skip
    supervisor.start(NAME, nabd_command("web", "run"), station_environment(env, port))
    return DemoStation(f"https://localhost:{port}/", user, password)


def close_station(owner_url: str, station: DemoStation) -> None:
    """Disable this run's sign-in and end its sessions (the process is stopped with the rest)."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("UPDATE station_user SET disabled_at = now() WHERE name = %s", (station.user,))
        conn.execute("DELETE FROM station_session WHERE user_name = %s", (station.user,))
