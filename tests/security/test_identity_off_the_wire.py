"""Patient identity never travels over MQTT: no payload model has a field that could hold it.

Every message on the broker is one of the contract's payload models (strict, ``extra="forbid"``,
so a field not declared cannot be smuggled in); patients appear only as the pseudonymous
``patient_id`` of the registry. The identity columns are read from the migration that defines
them, so a new identity column is checked without editing this test.
"""

from __future__ import annotations

import re
import typing
from importlib import resources

from pydantic import BaseModel

from nabd.contract import payloads

IDENTITY_WORDS = {
    "name",
    "given",
    "family",
    "mrn",
    "birth",
    "dob",
    "address",
    "phone",
    "nhs",
    "ssn",
    "insee",
    "email",
    "surname",
}


def _identity_columns() -> set[str]:
    sql = resources.files("nabd.app.db.migrations").joinpath("0002_registry.sql").read_text()
    table = sql.split("CREATE TABLE identity.patient_identity", 1)[1].split(");", 1)[0]
    return {m for m in re.findall(r"^\s+([a-z_]+)\s", table, re.M)} - {"patient_id"}


def _models() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = [
        m
        for m in vars(payloads).values()
        if isinstance(m, type) and issubclass(m, payloads.Payload) and m is not payloads.Payload
    ]
    assert len(found) >= 8
    return found


_BD_ADDR_PATTERN = typing.get_args(payloads.BluetoothAddress)[1].pattern
"""A Bluetooth device address (12 hex digits) cannot hold identity, whatever its field is called."""


def _fields(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[str]:
    if model in seen:
        return set()
    seen.add(model)
    names: set[str] = set()
    for name, info in model.model_fields.items():
        if any(getattr(m, "pattern", None) == _BD_ADDR_PATTERN for m in info.metadata):
            continue
        names |= {name, info.alias or name}
        for arg in _types(info.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                names |= _fields(arg, seen)
    return names


def _types(annotation: object) -> list[object]:
    args = typing.get_args(annotation)
    return [annotation] if not args else [t for a in args for t in _types(a)]


def test_identity_columns_are_found() -> None:
    assert {"mrn", "given_name", "family_name", "birth_date"} <= _identity_columns()


def test_no_payload_field_can_carry_identity() -> None:
    fields: set[str] = set()
    for model in _models():
        fields |= _fields(model, set())
    assert "patient_id" in fields or "device_id" in fields  # the walk reached the nested models
    assert fields & _identity_columns() == set()
    words = {w for f in fields for w in f.lower().split("_")}
    assert words & IDENTITY_WORDS == set()


def test_payload_models_refuse_undeclared_fields() -> None:
    for model in _models():
        assert model.model_config.get("extra") == "forbid", model.__name__
