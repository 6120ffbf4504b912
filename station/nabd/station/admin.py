"""The admin pages (``/admin``): admit, transfer, discharge, register and assign devices.

Each action calls the care operation the ``nabd patient|device`` commands call
(:mod:`nabd.care`), audited with the signed-in admin's name (``by=``). Before writing, the
station proves under the admin's own role (the per-ward row-level security of migration 0040)
that the ward, the patient and the device are hers; only then does it write as its own login,
which holds the ``nabd_care`` privileges (migration 0071). Another ward's patient is "not
found", as on the nurses' pages. A refusal of the registry (bed occupied, MRN admitted, device
worn by someone else) is the care operation's own sentence, shown in the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, Response

from nabd.care import devices, patients
from nabd.care.errors import AlreadyAdmitted, CareError, CareInputError, CareRefused, Why
from nabd.care.values import DEVICE_KINDS, Admission, DeviceSpec, parse_id
from nabd.station import scope
from nabd.station.errors import NotFoundError
from nabd.station.kit import Conn, Kit, RolePage, as_user_again, her_ward
from nabd.station.sessions import SignedIn
from nabd.station.users import Role

__all__ = ["DONE", "AdminView", "install", "view"]

DONE: Final = ("admit", "transfer", "discharge", "device", "assign", "unassign")
"""The ``done`` notices the page shows after a redirect."""

_Field = Annotated[str, Form(max_length=200)]
_Csrf = Annotated[str | None, Form()]


@dataclass(frozen=True)
class AdmittedRow:
    patient_id: str
    ward_id: str
    bed_id: str | None
    name: str | None
    devices: tuple[str, ...]


@dataclass(frozen=True)
class DeviceRow:
    device_id: str
    kind: str
    address: str
    patient_id: str | None


@dataclass(frozen=True)
class AdminView:
    """What the admin page shows: her wards, their admitted patients, the devices she handles."""

    wards: list[tuple[str, str]]
    patients: list[AdmittedRow]
    devices: list[DeviceRow]


def view(conn: Conn, user: SignedIn) -> AdminView:
    """Her wards and patients read under her role; devices: those worn by her patients, those
    on her wards' gateways and those on no gateway yet (just registered)."""
    with scope.as_user(conn, user):
        wards = [(str(w), str(n)) for w, n in conn.execute("SELECT id, name FROM ward ORDER BY id")]
        rows = conn.execute(
            """SELECT id, ward_id, bed_id FROM patient WHERE discharged_at IS NULL
               ORDER BY ward_id, bed_id NULLS LAST, id"""
        ).fetchall()
        gateways = [str(g) for (g,) in conn.execute("SELECT id FROM gateway")]
        scope.as_station(conn)
        ids = [str(r[0]) for r in rows]
        names = _names(conn, ids, user.name) if user.sees_identity else {}
        worn = conn.execute(
            """SELECT d.id, d.kind, d.address, a.patient_id FROM device d
               LEFT JOIN device_assignment a ON a.device_id = d.id AND upper_inf(a.valid)
               WHERE a.patient_id = ANY(%(p)s)
                  OR (a.patient_id IS NULL AND (d.gateway_id IS NULL OR d.gateway_id = ANY(%(g)s)))
               ORDER BY d.id""",
            {"p": ids, "g": gateways},
        ).fetchall()
    wearing: dict[str, list[str]] = {}
    for device_id, _kind, _address, patient in worn:
        if patient is not None:
            wearing.setdefault(str(patient), []).append(str(device_id))
    return AdminView(
        wards,
        [AdmittedRow(str(p), str(w), b, names.get(str(p)), tuple(wearing.get(str(p), ())))
         for p, w, b in rows],
        [DeviceRow(str(d), str(k), str(a), p) for d, k, a, p in worn],
    )  # fmt: skip


def _names(conn: Conn, ids: list[str], reader: str) -> dict[str, str]:
    """Names of her patients, each recorded as an access (migration 0085)."""
    rows = conn.execute(
        """SELECT patient_id, concat_ws(' ', given_name, family_name)
           FROM identity.read_identities(%s, 'station', %s, 'admin page')""",
        (ids, reader),
    ).fetchall()
    return {str(p): str(n) for p, n in rows}


def _her_device(conn: Conn, user: SignedIn, device: str) -> str:
    """``device`` if she may handle it: worn by one of her patients, else on one of her wards'
    gateways or on none. An unknown device passes: the care operation says it is unknown."""
    device_id = parse_id("device", device)
    scope.as_station(conn)
    row = conn.execute(
        """SELECT d.gateway_id, a.patient_id FROM device d
           LEFT JOIN device_assignment a ON a.device_id = d.id AND upper_inf(a.valid)
           WHERE d.id = %s""",
        (device_id,),
    ).fetchone()
    as_user_again(conn, user)
    if row is None:
        return device_id
    gateway, holder = row
    if holder is not None:
        scope.visible_patient(conn, str(holder))
    elif (
        gateway is not None
        and conn.execute("SELECT 1 FROM gateway WHERE id = %s", (gateway,)).fetchone() is None
    ):
        raise NotFoundError(f"no device {device_id!r} in your wards", phrase="no_device",
                            id=device_id)  # fmt: skip
    return device_id


def _status(refusal: Exception) -> int:
    """400 for a value that can never be right, 409 for what the registry's state refuses."""
    return 400 if isinstance(refusal, CareInputError) else 409


def _admitted_elsewhere(
    conn: Conn, user: SignedIn, admission: Admission, refusal: AlreadyAdmitted
) -> CareError:
    """The care operation's sentence if the admission it names is in her wards; else one that
    does not say where (the other ward's pseudonym, bed and time are not hers to read)."""
    as_user_again(conn, user)
    seen = conn.execute("SELECT 1 FROM patient WHERE id = %s", (refusal.patient_id,)).fetchone()
    if seen is not None:
        return refusal
    return CareRefused(
        f"MRN {admission.mrn} is already admitted in another ward: that ward transfers or"
        " discharges it before it can be admitted here",
        Why.MRN_ADMITTED_ELSEWHERE, mrn=admission.mrn,
    )  # fmt: skip


def install(app: FastAPI, kit: Kit) -> None:
    """Add the admin page and its forms to ``app``."""

    pages = RolePage(kit, "/admin", "admin.html", Role.ADMIN, view, DONE, CareError,
                     _status, {"kinds": sorted(DEVICE_KINDS)})  # fmt: skip
    act = pages.act

    @app.get("/admin", response_class=HTMLResponse)
    def admin_page(request: Request, done: str | None = None) -> Response:
        return pages.show(request, done)

    @app.post("/admin/admit")
    def admit(request: Request, *, ward: _Field, bed: _Field, mrn: _Field, name: _Field,
              birth_date: _Field = "", csrf: _Csrf = None) -> Response:  # fmt: skip
        def do(conn: Conn, user: SignedIn) -> None:
            admission = Admission.parse(ward=ward, bed=bed, mrn=mrn, name=name,
                                        birth_date=birth_date or None)  # fmt: skip
            her_ward(conn, admission.ward)
            scope.as_station(conn)
            try:
                patients.admit(conn, admission, by=user.name)
            except AlreadyAdmitted as exc:
                raise _admitted_elsewhere(conn, user, admission, exc) from None

        return act(request, csrf, "admit", do)

    @app.post("/admin/transfer")
    def transfer(request: Request, patient: _Field, ward: _Field, bed: _Field,
                 csrf: _Csrf = None) -> Response:  # fmt: skip
        def do(conn: Conn, user: SignedIn) -> None:
            scope.visible_patient(conn, patient)
            her_ward(conn, ward)
            scope.as_station(conn)
            patients.transfer(conn, patient, ward=ward, bed=bed, by=user.name)

        return act(request, csrf, "transfer", do)

    @app.post("/admin/discharge")
    def discharge(request: Request, patient: _Field,
                  csrf: _Csrf = None) -> Response:  # fmt: skip
        def do(conn: Conn, user: SignedIn) -> None:
            scope.visible_patient(conn, patient)
            scope.as_station(conn)
            patients.discharge(conn, patient, by=user.name)

        return act(request, csrf, "discharge", do)

    @app.post("/admin/devices")
    def add_device(request: Request, *, device: _Field, kind: _Field, address: _Field,
                   serial: _Field = "", csrf: _Csrf = None) -> Response:  # fmt: skip
        def do(conn: Conn, user: SignedIn) -> None:
            spec = DeviceSpec.parse(device_id=device, kind=kind, address=address,
                                    serial=serial or None)  # fmt: skip
            scope.as_station(conn)
            devices.add_device(conn, spec, by=user.name)

        return act(request, csrf, "device", do)

    @app.post("/admin/assign")
    def assign(request: Request, device: _Field, patient: _Field,
               csrf: _Csrf = None) -> Response:  # fmt: skip
        def do(conn: Conn, user: SignedIn) -> None:
            scope.visible_patient(conn, patient)
            device_id = _her_device(conn, user, device)
            scope.as_station(conn)
            devices.assign(conn, device_id, patient, by=user.name)

        return act(request, csrf, "assign", do)

    @app.post("/admin/unassign")
    def unassign(request: Request, device: _Field,
                 csrf: _Csrf = None) -> Response:  # fmt: skip
        def do(conn: Conn, user: SignedIn) -> None:
            device_id = _her_device(conn, user, device)
            scope.as_station(conn)
            devices.unassign(conn, device_id, by=user.name)

        return act(request, csrf, "unassign", do)
