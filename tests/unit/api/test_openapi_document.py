"""The OpenAPI document: valid OpenAPI 3.1 with valid 2020-12 schemas, consistent with itself
(path templates and parameters, roles and security), and served open at its path. That it
matches the routes and their answers is checked on a running platform
(tests/integration/test_openapi.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from tests.asgi import request

from comind.api.app import create_app
from comind.api.openapi import PATH, document
from comind.embedded.state import PlatformState


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def test_the_document_is_valid_openapi_3_1() -> None:
    doc = document()
    assert doc["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(doc).validate()


def test_the_validator_would_refuse_a_broken_document() -> None:
    doc = document()
    doc["paths"]["/api/v1/queues"]["get"]["parameters"] = [{"name": "limit"}]  # no "in"
    with pytest.raises(OpenAPIValidationError):
        OpenAPIV31SpecValidator(doc).validate()


@pytest.mark.parametrize("name", sorted(document()["components"]["schemas"]))
def test_each_schema_is_valid_json_schema_2020_12(name: str) -> None:
    Draft202012Validator.check_schema(document()["components"]["schemas"][name])


def test_operation_ids_are_unique() -> None:
    ids = [op["operationId"] for _, _, op in operations(document())]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_path_parameters_match_the_templates() -> None:
    for path, method, op in operations(document()):
        templated = set(re.findall(r"{(\w+)}", path))
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert templated == declared, f"{method.upper()} {path}"


def test_token_operations_name_their_role_and_answer_401_and_403() -> None:
    for path, method, op in operations(document()):
        role = op.get("x-comind-role")
        if role is None:
            continue
        assert op["security"][0] == {"bearerToken": [role]}, f"{method.upper()} {path}"
        assert {"401", "403"} <= set(op["responses"]), f"{method.upper()} {path}"
        if method != "get":  # changes through the API need at least an operator
            assert role in ("operator", "admin"), f"{method.upper()} {path}"


def test_errors_are_problems() -> None:
    problem = {"$ref": "#/components/schemas/Problem"}
    for path, method, op in operations(document()):
        for status, answer in op["responses"].items():
            if int(status) >= 400 and "application/json" in answer.get("content", {}):
                schema = answer["content"]["application/json"]["schema"]
                assert schema == problem, f"{method.upper()} {path} {status}"


class _Stopped:
    def status(self) -> PlatformState:
        return PlatformState(running=False, version="0", pid=1, home="/", started_at=0.0,
                             engines={})  # fmt: skip

    def healthy(self) -> bool:
        return False


def test_it_is_served_without_a_token() -> None:
    answer = request(create_app(_Stopped()), "GET", PATH)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == document()
