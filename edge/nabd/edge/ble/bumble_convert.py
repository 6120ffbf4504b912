"""bumble's objects in bleak's shapes: UUIDs, advertisements, the discovered GATT database.

bleak's public API promises the same values on every platform: 128-bit lower-case UUID strings,
``AdvertisementData`` with service UUIDs, service data, manufacturer data and TX power, and a
``BleakGATTServiceCollection`` of services, characteristics (with their property names) and
descriptors addressed by ATT handle. These functions build them from what bumble's host reports,
so the agent code cannot tell the bumble backend from BlueZ.
"""

from __future__ import annotations

import struct
import uuid as std_uuid
from collections.abc import Callable, Iterable
from typing import Final

from bleak.assigned_numbers import CHARACTERISTIC_PROPERTIES, CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.scanner import AdvertisementData
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bumble.core import UUID
from bumble.device import Advertisement
from bumble.gatt_client import ServiceProxy

__all__ = ["advertisement_data", "bleak_uuid", "bumble_uuid", "service_collection"]

_AD_FLAGS_UUID16: Final = (0x02, 0x03)
_AD_FLAGS_UUID32: Final = (0x04, 0x05)
_AD_FLAGS_UUID128: Final = (0x06, 0x07)
_AD_SHORT_NAME: Final = 0x08
_AD_COMPLETE_NAME: Final = 0x09
_AD_TX_POWER: Final = 0x0A
_AD_SERVICE_DATA: Final = {0x16: 2, 0x20: 4, 0x21: 16}
_AD_MANUFACTURER: Final = 0xFF
_RSSI_NOT_AVAILABLE: Final = 127
_DEFAULT_RSSI: Final = -127


def bleak_uuid(value: UUID) -> str:
    """bleak's normalised form: 128-bit, lower case, hyphenated."""
    return str(std_uuid.UUID(bytes=value.to_bytes(force_128=True)[::-1]))


def bumble_uuid(value: str) -> UUID:
    """A bumble UUID from bleak's normalised string."""
    return UUID(value)


def _uuids(raw: bytes, size: int) -> list[str]:
    return [
        bleak_uuid(UUID.from_bytes(raw[i : i + size]))
        for i in range(0, len(raw) - len(raw) % size, size)
    ]


def advertisement_data(advertisement: Advertisement) -> AdvertisementData:
    """The advertising (and scan response) data of one report, parsed as bleak reports it."""
    names: dict[int, str] = {}
    service_uuids: list[str] = []
    service_data: dict[str, bytes] = {}
    manufacturer_data: dict[int, bytes] = {}
    tx_power: int | None = None
    for ad_type, raw in advertisement.data.ad_structures:
        kind = int(ad_type)
        if kind in _AD_FLAGS_UUID16:
            service_uuids += _uuids(raw, 2)
        elif kind in _AD_FLAGS_UUID32:
            service_uuids += _uuids(raw, 4)
        elif kind in _AD_FLAGS_UUID128:
            service_uuids += _uuids(raw, 16)
        elif kind in (_AD_SHORT_NAME, _AD_COMPLETE_NAME):
            names[kind] = raw.decode("utf-8", errors="replace")
        elif kind == _AD_TX_POWER and len(raw) == 1:
            tx_power = struct.unpack("<b", raw)[0]
        elif kind in _AD_SERVICE_DATA and len(raw) >= _AD_SERVICE_DATA[kind]:
            size = _AD_SERVICE_DATA[kind]
            service_data[bleak_uuid(UUID.from_bytes(raw[:size]))] = raw[size:]
        elif kind == _AD_MANUFACTURER and len(raw) >= 2:
            manufacturer_data[int.from_bytes(raw[:2], "little")] = raw[2:]
    rssi = advertisement.rssi
    return AdvertisementData(
        local_name=names.get(_AD_COMPLETE_NAME, names.get(_AD_SHORT_NAME)),
        manufacturer_data=manufacturer_data,
        service_data=service_data,
        service_uuids=list(dict.fromkeys(service_uuids)),
        tx_power=tx_power,
        rssi=_DEFAULT_RSSI if rssi == _RSSI_NOT_AVAILABLE else rssi,
        platform_data=(advertisement,),
    )


def _property_names(properties: int) -> list[CharacteristicPropertyName]:
    return [name for bit, name in CHARACTERISTIC_PROPERTIES.items() if properties & bit]


def service_collection(
    services: Iterable[ServiceProxy], write_without_response_size: Callable[[], int]
) -> BleakGATTServiceCollection:
    """bleak's view of a discovered GATT database. Characteristics are addressed by their value
    handle (what reads, writes and notifications use), descriptors by their own handle."""
    collection = BleakGATTServiceCollection()
    for service in services:
        bleak_service = BleakGATTService(service, service.handle, bleak_uuid(service.uuid))
        collection.add_service(bleak_service)
        for characteristic in service.characteristics:
            bleak_characteristic = BleakGATTCharacteristic(
                characteristic,
                characteristic.handle,
                bleak_uuid(characteristic.uuid),
                _property_names(int(characteristic.properties)),
                write_without_response_size,
                bleak_service,
            )
            collection.add_characteristic(bleak_characteristic)
            for descriptor in characteristic.descriptors:
                collection.add_descriptor(
                    BleakGATTDescriptor(
                        descriptor,
                        descriptor.handle,
                        bleak_uuid(descriptor.type),
                        bleak_characteristic,
                    )
                )
    return collection
