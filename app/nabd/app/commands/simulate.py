"""``nabd simulate``: virtual patients to files, virtual BLE devices, an MQTT load generator.

* ``ward``: simulate a ward (profiles, scenarios, labels) and write series, beats and labels.
* ``replay``: the same files from a MIMIC-II or MIT-BIH AF record (or list the records).
* ``devices``: play patients' wearables as BLE peripherals (bumble), on the virtual link (served
  to a gateway over TCP with ``--gateway-port``) or on real controllers (``--transport usb:0``).
* ``load``: thousands of gateways publishing observation batches at a set rate; ``loss``
  compares a run's record with the database.

Handlers import ``nabd.simulators`` (numpy, bumble, paho) only when they run, so ``nabd --help``
works with the base install. See docs/simulators.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from nabd.app.commands import Subparsers, fail
from nabd.app.commands.problems import UsageError

DEVICE_KINDS = (
    "chest_strap",
    "pulse_oximeter",
    "thermometer",
    "bp_cuff",
    "glucose_meter",
    "scale",
    "respiration_sensor",
)
"""``nabd.simulators.devices.Device`` values, spelled out so ``--help`` needs no numpy."""

if TYPE_CHECKING:
    from nabd.app.stack.settings import StackSettings
    from nabd.simulators.ble.fleet import FleetReady
    from nabd.simulators.ble.schedule import DeviceFeed
    from nabd.simulators.load import LoadResult
    from nabd.simulators.load_mqtt import Broker, GatewayAccount


def _epoch(text: str) -> float:
    """``now``, seconds since the epoch, or an ISO 8601 time with an offset."""
    if text == "now":
        return float(int(time.time()))
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a time: {text!r}") from exc
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the time with an offset: {text!r}")
    return moment.timestamp()


def _mix(text: str) -> dict[str, float]:
    """``sepsis=0.5,stable=0.5`` -> weights."""
    try:
        pairs = (item.split("=", 1) for item in text.split(",") if item)
        return {kind.strip(): float(weight) for kind, weight in pairs}
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a mix like 'stable=0.5,sepsis=0.5': {text}") from exc


# ---- ward / replay -------------------------------------------------------------------------


def _ward(args: argparse.Namespace) -> int:
    from nabd.simulators.errors import SimulatorError
    from nabd.simulators.export import write_ward
    from nabd.simulators.ward import DEFAULT_MIX, build_ward

    try:
        ward = build_ward(
            args.patients,
            args.seed,
            args.mix or DEFAULT_MIX,
            start=args.start,
            duration_s=args.hours * 3600.0,
        )
        written = write_ward(ward, args.out, step_s=args.step)
    except SimulatorError as error:
        return fail(error)
    print(
        f"{written.patients} patients, {written.rows} rows, {written.beats} beats, "
        f"{written.labels} labels in {written.folder}"
    )
    if ward.unplaced:
        print(f"not dealt (nobody in the cohort, e.g. on insulin): {', '.join(ward.unplaced)}")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from nabd.simulators.errors import SimulatorError
    from nabd.simulators.export import write_replay
    from nabd.simulators.replay import afdb_records, mimic_records, replay_afdb, replay_mimic

    mimic = args.source == "mimic"
    try:
        if args.record is None:
            records = mimic_records(args.data_dir) if mimic else afdb_records(args.data_dir)
            print("\n".join(records) or "none")
            return 0
        if args.out is None:
            return fail(UsageError("--out DIR is required to write a record"))
        if mimic:
            replay = replay_mimic(args.record, data_dir=args.data_dir)
        else:
            replay = replay_afdb(args.record, data_dir=args.data_dir)
        source = {"source": args.source, "record": args.record}
        written = write_replay(replay.series, replay.labels, args.out, source)
    except SimulatorError as error:
        return fail(error)
    print(
        f"{written.rows} rows, {written.beats} beats, {written.labels} labels in {written.folder}"
    )
    return 0


# ---- devices -------------------------------------------------------------------------------


def _device_feeds(args: argparse.Namespace) -> list[DeviceFeed]:
    from nabd.simulators.ble.schedule import feed_of
    from nabd.simulators.devices import Device
    from nabd.simulators.replay import replay_afdb, replay_mimic
    from nabd.simulators.timebase import regular_times
    from nabd.simulators.ward import build_ward

    kinds = [Device(k) for k in args.device] if args.device else list(Device)
    if args.replay:
        source, _, record = args.replay.partition(":")
        if source not in ("mimic", "afdb") or not record:
            raise ValueError(f"--replay wants mimic:RECORD or afdb:RECORD, got {args.replay!r}")
        replay = replay_mimic(record) if source == "mimic" else replay_afdb(record)
        series = replay.series
        return [feed_of(series, series.patient_ids[0], kind) for kind in kinds]
    ward = build_ward(args.patients, args.seed, start=args.start, duration_s=args.hours * 3600.0)
    series = ward.simulate(regular_times(ward.start, ward.end - ward.start, 1.0))
    return [
        feed_of(series, p.patient_id, kind, ward.assignments[p.patient_id], seed=args.seed)
        for p in ward.profiles
        for kind in kinds
    ]


def _edge_devices(feeds: list[DeviceFeed]) -> str:
    """``[[devices]]`` tables for ``nabd edge``'s configuration file."""
    return "".join(
        f'[[devices]]\nid = "{f.identity.device_id}"\naddress = "{f.identity.address}"\n'
        f'patient = "{f.identity.patient_id}"\n\n'
        for f in feeds
    )


def _announce(args: argparse.Namespace, info: FleetReady) -> None:
    for peripheral in info.peripherals:
        identity = peripheral.identity
        print(
            f"{identity.device_id:<18} {identity.address}  {identity.device.value:<15} "
            f"{identity.patient_id}  {identity.name}"
        )
    if info.gateway_port is not None:
        print(
            f'gateway: [ble] backend = "bumble", transport = '
            f'"tcp-client:127.0.0.1:{info.gateway_port}"',
            file=sys.stderr,
        )
    print(f"playing at x{args.speed:g}; Ctrl-C stops", file=sys.stderr)
    sys.stdout.flush()


def _devices(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from nabd.simulators.ble.fleet import run_fleet
    from nabd.simulators.errors import SimulatorError

    try:
        feeds = _device_feeds(args)
    except (SimulatorError, ValueError) as error:
        return fail(error)
    if args.edge_devices is not None:
        args.edge_devices.write_text(_edge_devices(feeds), encoding="utf-8")

    async def play() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_fleet(
            feeds,
            transports=args.transport or ("virtual",),
            speed=args.speed,
            advertising_interval_ms=args.advertising_interval_ms,
            gateway_port=args.gateway_port,
            ready=lambda info: _announce(args, info),
            stop=stop,
        )

    try:
        asyncio.run(play())
    except SimulatorError as error:
        return fail(error)
    return 0


# ---- load / loss ---------------------------------------------------------------------------


def _stack_settings(args: argparse.Namespace) -> StackSettings:
    from nabd.app.stack.settings import StackSettings

    return StackSettings() if args.state_dir is None else StackSettings(state_dir=args.state_dir)


def _stack_accounts(args: argparse.Namespace) -> tuple[Broker, list[GatewayAccount]]:
    from nabd.app.stack import lifecycle
    from nabd.app.stack.env import EDGE, MQTT_CA_FILE, MQTT_HOST, MQTT_PORT, mqtt_vars
    from nabd.simulators.load_mqtt import Broker, GatewayAccount

    settings = _stack_settings(args)
    ids = [f"{args.prefix}-{i:05d}" for i in range(args.gateways)]
    lifecycle.add_gateways(settings, ids)
    environments = lifecycle.gateway_environments(settings, ids)
    names = mqtt_vars(EDGE)
    first = environments[ids[0]]
    broker = Broker(first[MQTT_HOST], int(first[MQTT_PORT]), Path(first[MQTT_CA_FILE]))
    accounts = [
        GatewayAccount(
            gateway_id=g,
            password=env.get(names["password"]),
            cert_file=Path(env[names["cert_file"]]),
            key_file=Path(env[names["key_file"]]),
        )
        for g, env in environments.items()
    ]
    return broker, accounts


def _owner_url(args: argparse.Namespace) -> str:
    """``--database-url``; else the stack of ``--state-dir``; else ``$NABD_DATABASE_URL``; else
    the default local stack's."""
    import os

    from nabd.app.stack import lifecycle
    from nabd.app.stack.env import DATABASE_URL

    if args.database_url:
        return str(args.database_url)
    if args.state_dir is None and os.environ.get(DATABASE_URL):
        return os.environ[DATABASE_URL]
    return lifecycle.environment(_stack_settings(args))[DATABASE_URL]


def _describe(result: LoadResult) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value * 1000:.1f} ms"

    return "\n".join(
        [
            f"gateways   {result.connected}/{result.gateways} connected "
            f"in {result.connect_s:.1f} s",
            f"published  {result.published} batches in {result.publish_s:.1f} s "
            f"({result.achieved_rate:.1f}/s)",
            f"puback     {result.pubacked} (refused {result.refused}), "
            f"p50 {ms(result.puback_p50)}, p99 {ms(result.puback_p99)}",
            f"ingest ack {result.acked}, p50 {ms(result.ack_p50)}, p99 {ms(result.ack_p99)}",
            f"sessions   {result.disconnects} lost",
            f"record     {result.record}",
        ]
    )


def _load(args: argparse.Namespace) -> int:
    from nabd.app.stack.errors import StackError
    from nabd.simulators.errors import SimulatorError
    from nabd.simulators.load import LoadSettings, run_load
    from nabd.simulators.load_batches import fleet_plan
    from nabd.simulators.loss import register_fleet

    record = args.record or Path(f"load-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.sqlite")
    try:
        settings = LoadSettings(
            rate=args.rate,
            duration_s=args.duration,
            devices_per_gateway=args.devices_per_gateway,
            subscribe_acks=args.acks,
        )
        broker, accounts = _stack_accounts(args)
        if args.register:
            plans = fleet_plan([a.gateway_id for a in accounts], args.devices_per_gateway)
            register_fleet(_owner_url(args), plans)
        result = run_load(
            broker, accounts, settings, record, progress=lambda text: print(text, file=sys.stderr)
        )
    except (SimulatorError, StackError) as error:
        return fail(error)
    print(_describe(result))
    return 0


def _loss(args: argparse.Namespace) -> int:
    from nabd.app.stack.errors import StackError
    from nabd.simulators.errors import SimulatorError
    from nabd.simulators.load_record import SentRecord
    from nabd.simulators.loss import count_loss

    try:
        with SentRecord.open(args.record) as record:
            report = count_loss(record, _owner_url(args))
    except (SimulatorError, StackError) as error:
        return fail(error)
    print(
        f"sent {report.sent} readings: found {report.found}, missing {report.missing} "
        f"({report.loss_fraction:.4%}), duplicated {report.duplicates}, "
        f"unexpected {report.unexpected}"
    )
    return 0 if report.missing == report.duplicates == report.unexpected == 0 else 3


# ---- parsers -------------------------------------------------------------------------------


def _register_ward(commands: Subparsers) -> None:
    ward = commands.add_parser(
        "ward",
        help="simulate a ward and write series.csv, beats.csv, labels.csv/json",
        description="Virtual patients with scenarios drawn from a mix, reproducible from the "
        "seed, written as CSV with their ground-truth labels.",
    )
    ward.add_argument("--patients", type=int, default=10)
    ward.add_argument("--seed", type=int, default=0)
    ward.add_argument("--hours", type=float, default=24.0)
    ward.add_argument("--step", type=float, default=1.0, help="seconds between samples")
    ward.add_argument(
        "--start", type=_epoch, default=1740787200.0, help="epoch s, ISO time or 'now'"
    )
    ward.add_argument("--mix", type=_mix, default=None, help="e.g. stable=0.5,sepsis=0.5")
    ward.add_argument("--out", type=Path, required=True, help="folder to write")
    ward.set_defaults(handler=_ward)


def _register_replay(commands: Subparsers) -> None:
    replay = commands.add_parser(
        "replay",
        help="write a MIMIC-II or AF database record like a ward (or list the records)",
    )
    replay.add_argument("source", choices=("mimic", "afdb"))
    replay.add_argument("record", nargs="?", help="record name; none lists them")
    replay.add_argument("--out", type=Path, default=None)
    replay.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="a folder with afdb/ and mimic2/ laid out as the bundled one (default: the records "
        "shipped with nabd.simulators)",
    )
    replay.set_defaults(handler=_replay)


def _register_devices(commands: Subparsers) -> None:
    devices = commands.add_parser(
        "devices",
        help="run patients' wearables as BLE peripherals (bumble)",
        description="Each patient's devices advertise and serve the standard health services, "
        "sending the simulated series. 'virtual' runs them on bumble's in-process link "
        "(--gateway-port serves it to `nabd edge` over TCP); a bumble transport spec "
        "(usb:0, serial:/dev/ttyUSB0,1000000) runs one device per real controller.",
    )
    devices.add_argument("--patients", type=int, default=1)
    devices.add_argument("--seed", type=int, default=0)
    devices.add_argument("--hours", type=float, default=1.0)
    devices.add_argument("--start", type=_epoch, default="now", help="epoch s, ISO time or 'now'")
    devices.add_argument("--speed", type=float, default=1.0, help="simulated seconds per second")
    devices.add_argument(
        "--device",
        action="append",
        choices=(
            "chest_strap",
            "pulse_oximeter",
            "thermometer",
            "bp_cuff",
            "glucose_meter",
            "scale",
        ),
        help="only these kinds (repeat; default all six)",
    )
    devices.add_argument(
        "--transport", action="append", help="'virtual' (default) or one bumble spec per device"
    )
    devices.add_argument("--gateway-port", type=int, default=None, help="serve the virtual link")
    devices.add_argument("--advertising-interval-ms", type=float, default=100.0)
    devices.add_argument("--replay", default=None, help="mimic:RECORD or afdb:RECORD instead")
    devices.add_argument(
        "--edge-devices", type=Path, default=None, help="write [[devices]] for nabd edge here"
    )
    devices.set_defaults(handler=_devices)


def _register_load(commands: Subparsers) -> None:
    load = commands.add_parser(
        "load",
        help="virtual gateways publishing observation batches at a set rate (local stack)",
        description="Creates (or reuses) gateway accounts <prefix>-00000... on the local stack, "
        "connects each with its own TLS session and publishes at --rate batches/s in total "
        "for --duration s, recording every batch (--record).",
    )
    load.add_argument("--gateways", type=int, default=100)
    load.add_argument("--rate", type=float, default=100.0, help="batches per second, in total")
    load.add_argument("--duration", type=float, default=60.0, help="seconds")
    load.add_argument("--devices-per-gateway", type=int, default=2)
    load.add_argument("--prefix", default="load")
    load.add_argument("--acks", action="store_true", help="measure publish -> ingest commit")
    load.add_argument(
        "--register", action="store_true", help="register gateways and devices in the database"
    )
    load.add_argument("--record", type=Path, default=None, help="sent record (SQLite) to write")
    load.add_argument("--state-dir", type=Path, default=None)
    load.add_argument("--database-url", default=None, help="owner's URL (with --register)")
    load.set_defaults(handler=_load)
    loss = commands.add_parser(
        "loss", help="compare a load run's record with the database (exit 3 if anything is off)"
    )
    loss.add_argument("record", type=Path)
    loss.add_argument("--database-url", default=None, help="default: $NABD_DATABASE_URL")
    loss.add_argument("--state-dir", type=Path, default=None)
    loss.set_defaults(handler=_loss)


def register(subparsers: Subparsers) -> None:
    """Add ``nabd simulate`` and its subcommands."""
    simulate = subparsers.add_parser(
        "simulate", help="virtual patients, BLE devices and MQTT load for tests and demos"
    )
    commands = simulate.add_subparsers(title="simulate commands", metavar="COMMAND", required=True)
    _register_ward(commands)
    _register_replay(commands)
    _register_devices(commands)
    _register_load(commands)
