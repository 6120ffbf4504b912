"""SQL queries and annotations for Grafana's PostgreSQL data source, as SDK builders.

The foundation SDK ships query types for many data sources but not for the SQL ones, so this
module adds the one Nabd needs through the SDK's own extension points: :class:`SqlQuery` is a
``Dataquery`` variant and :class:`Sql` its builder, usable wherever the SDK takes a target.
:class:`SqlAnnotation` builds a dashboard annotation whose events come from a SQL query.

Every target names the one data source by a stable uid, :data:`DATASOURCE_UID`: the provisioning
file creates it under that uid, so dashboards resolve it on any Grafana.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard

__all__ = [
    "DATASOURCE_TYPE",
    "DATASOURCE_UID",
    "Format",
    "Sql",
    "SqlAnnotation",
    "SqlAnnotationQuery",
    "SqlQuery",
    "datasource_ref",
]

DATASOURCE_UID: Final = "nabd-timescaledb"
DATASOURCE_TYPE: Final = "postgres"
"""Grafana's built-in PostgreSQL data source (Grafana 11 also knows it by this id)."""


def datasource_ref() -> dashboard.DataSourceRef:
    """A fresh reference to the Nabd data source (SDK models are mutable: never share one)."""
    return dashboard.DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)


class Format(StrEnum):
    """How Grafana reads the rows: a table, or time series (a ``time`` column, sorted)."""

    TABLE = "table"
    TIME_SERIES = "time_series"


class SqlQuery(cogvariants.Dataquery):
    """One raw SQL target, as Grafana's PostgreSQL query editor saves it in code mode."""

    def __init__(self, ref_id: str = "A", raw_sql: str = "", fmt: Format = Format.TABLE) -> None:
        self.ref_id = ref_id
        self.raw_sql = raw_sql
        self.format = fmt

    def to_json(self) -> dict[str, object]:
        return {
            "refId": self.ref_id,
            "datasource": datasource_ref(),
            "editorMode": "code",
            "rawQuery": True,
            "format": str(self.format),
            "rawSql": self.raw_sql,
        }


class Sql(cogbuilder.Builder[cogvariants.Dataquery]):
    """Builder of a :class:`SqlQuery`: ``Sql(text).time_series()``."""

    def __init__(self, raw_sql: str) -> None:
        self._internal = SqlQuery(raw_sql=raw_sql)

    def build(self) -> SqlQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        self._internal.ref_id = ref_id
        return self

    def time_series(self) -> Self:
        self._internal.format = Format.TIME_SERIES
        return self


class SqlAnnotationQuery(dashboard.AnnotationQuery):
    """A dashboard annotation fed by SQL: rows with ``time``, ``timeend``, ``text``, ``tags``.

    The SDK's annotation target only knows Grafana's built-in annotation store, so the SQL
    target is added here, in the shape Grafana's SQL data sources save it.
    """

    def __init__(self, name: str, raw_sql: str, icon_color: str) -> None:
        super().__init__(
            name=name, datasource=datasource_ref(), enable=True, hide=False, icon_color=icon_color
        )
        self.raw_sql = raw_sql

    def to_json(self) -> dict[str, object]:
        payload = super().to_json()
        payload["target"] = SqlQuery(ref_id="Anno", raw_sql=self.raw_sql)
        return payload


class SqlAnnotation(cogbuilder.Builder[dashboard.AnnotationQuery]):
    """Builder of a :class:`SqlAnnotationQuery`, for ``Dashboard.annotation``."""

    def __init__(self, name: str, raw_sql: str, icon_color: str) -> None:
        self._internal = SqlAnnotationQuery(name, raw_sql, icon_color)

    def build(self) -> SqlAnnotationQuery:
        return self._internal
