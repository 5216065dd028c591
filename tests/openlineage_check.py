"""Validating stored OpenLineage events against the schema openlineage-python ships.

openlineage-python carries the OpenLineage JSON schema as its generated attrs classes
(``openlineage.client.generated``: one class per object, validators for ``eventTime``,
``runId`` and the enums). ``rebuild`` turns an event's JSON back into those classes,
recursively, driven by each class's attrs fields and resolved type hints: an unknown key, a
missing required key, a wrong type, an unknown facet key or a bad value is an
``InvalidEvent``. A valid event rebuilt and serialized again with ``Serde`` gives back the
same JSON.
"""

from __future__ import annotations

import types
import typing
from enum import Enum
from typing import Any

import attr
from openlineage.client import facet_v2 as f
from openlineage.client.event_v2 import RunEvent
from openlineage.client.generated import base

# facet key -> class, per the facet family a dict holds (what comind emits, and a few more)
FACETS: dict[type, dict[str, type]] = {
    base.RunFacet: {
        "nominalTime": f.nominal_time_run.NominalTimeRunFacet,
        "processing_engine": f.processing_engine_run.ProcessingEngineRunFacet,
        "errorMessage": f.error_message_run.ErrorMessageRunFacet,
        "parent": f.parent_run.ParentRunFacet,
    },
    base.JobFacet: {
        "jobType": f.job_type_job.JobTypeJobFacet,
        "documentation": f.documentation_job.DocumentationJobFacet,
    },
    base.DatasetFacet: {
        "schema": f.schema_dataset.SchemaDatasetFacet,
        "columnLineage": f.column_lineage_dataset.ColumnLineageDatasetFacet,
        "dataQualityMetrics": f.data_quality_metrics_dataset.DataQualityMetricsDatasetFacet,
        "dataSource": f.datasource_dataset.DatasourceDatasetFacet,
    },
    base.InputDatasetFacet: {
        "dataQualityMetrics": (
            f.data_quality_metrics_input_dataset.DataQualityMetricsInputDatasetFacet
        ),
        "dataQualityAssertions": (
            f.data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet
        ),
    },
    base.OutputDatasetFacet: {
        "outputStatistics": f.output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet,
    },
}


class InvalidEvent(AssertionError):
    pass


def rebuild_event(data: dict[str, Any]) -> RunEvent:
    event = rebuild(RunEvent, data, "event")
    assert isinstance(event, RunEvent)
    return event


def rebuild(tp: Any, data: Any, where: str) -> Any:
    """``data`` (parsed JSON) as an instance of the type ``tp``."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return data
    if origin in (typing.Union, types.UnionType):
        return _union(typing.get_args(tp), data, where)
    if origin is list:
        _expect(isinstance(data, list), where, "a list", data)
        return [rebuild(typing.get_args(tp)[0], x, f"{where}[{i}]") for i, x in enumerate(data)]
    if origin is dict:
        _expect(isinstance(data, dict), where, "an object", data)
        value_type = typing.get_args(tp)[1]
        return {k: _value(value_type, k, v, f"{where}.{k}") for k, v in data.items()}
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(data)
        except ValueError as exc:
            raise InvalidEvent(f"{where}: {data!r} is not a {tp.__name__}") from exc
    if attr.has(tp):
        return _attrs(tp, data, where)
    if tp is float:
        _expect(isinstance(data, int | float) and not isinstance(data, bool), where, "a number",
                data)  # fmt: skip
        return data
    _expect(type(data) is tp, where, tp.__name__, data)
    return data


def _value(tp: Any, key: str, data: Any, where: str) -> Any:
    """A dict value: a facet is built as the class its key names in its family."""
    if isinstance(tp, type) and tp in FACETS:
        if key not in FACETS[tp]:
            raise InvalidEvent(f"{where}: no {tp.__name__} named {key!r}")
        facet = rebuild(FACETS[tp][key], data, where)
        if data.get("_schemaURL") != facet._get_schema():
            raise InvalidEvent(f"{where}: _schemaURL {data.get('_schemaURL')!r} is not its facet's")
        return facet
    return rebuild(tp, data, where)


def _attrs(cls: type, data: Any, where: str) -> Any:
    _expect(isinstance(data, dict), where, f"a {cls.__name__} object", data)
    fields = attr.fields(cls)
    hints = typing.get_type_hints(cls)
    unknown = set(data) - {a.name for a in fields}
    if unknown:
        raise InvalidEvent(f"{where}: unknown keys {sorted(unknown)} in {cls.__name__}")
    kwargs = {a.alias: rebuild(hints[a.name], data[a.name], f"{where}.{a.name}")
              for a in fields if a.init and a.name in data}  # fmt: skip
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise InvalidEvent(f"{where}: {cls.__name__}: {exc}") from exc


def _union(options: tuple[Any, ...], data: Any, where: str) -> Any:
    if data is None:
        _expect(type(None) in options, where, "a value", data)
        return None
    errors = []
    for option in (o for o in options if o is not type(None)):
        try:
            return rebuild(option, data, where)
        except InvalidEvent as exc:
            errors.append(str(exc))
    raise InvalidEvent("; ".join(errors))


def _expect(ok: bool, where: str, what: str, data: Any) -> None:
    if not ok:
        raise InvalidEvent(f"{where}: expected {what}, got {data!r}")
