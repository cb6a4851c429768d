"""The OpenAPI document is a contract clients can generate from: valid OpenAPI 3.1, and the
server keeps it under schemathesis's every check (statuses, content types, schemas, negative
data rejected, positive data accepted, methods, auth) over thousands of generated requests."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis import checks as st_checks

from dubbing_pipeline.domain.stages import Stage
from tests.support.stack import token
from tests.unit.api.conftest import Api

CASES_PER_OPERATION = 90


def test_the_document_is_valid_openapi_3_1(api: Api) -> None:
    spec = api.app.openapi()
    assert spec["openapi"].startswith("3.1")
    validate(spec)
    upload = spec["paths"]["/api/uploads"]["post"]["requestBody"]["content"]
    assert upload["application/octet-stream"]["schema"]["format"] == "binary"
    status = spec["components"]["schemas"]["JobStatus"]["enum"]
    assert set(status) == {"waiting", "active", "delayed", "completed", "failed", "canceled"}


def test_every_check_over_thousands_of_requests(api: Api) -> None:
    project = api.project()
    api.run(project, Stage.STT)
    api.segments(project, Stage.STT, ["Hello there.", "Goodbye."])
    st_checks.load_all_checks()
    every_check = st_checks.CHECKS.get_all()
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    # Valid data may still meet a state that refuses it: a missing or foreign object (404), a
    # job not in the dead letter queue (409), an Idempotency-Key already used for another
    # request (422, as the IETF Idempotency-Key draft answers).
    accepted = ["2xx", "401", "403", "404", "409", "422"]
    schema.config.checks.positive_data_acceptance.expected_statuses = accepted
    operations = [result.ok() for result in schema.get_all_operations()]
    # A project names languages and a source the schema cannot judge (whether a code is a real
    # language, whether the engines translate the pair, whether the key is the caller's upload):
    # those answers are 400s naming the problem, so "valid data is accepted" does not apply there.
    creating = {"/api/projects", "/api/projects/upload"}
    calls: list[str] = []
    failures: list[str] = []
    for operation in operations:
        role = "worker" if operation.path.endswith("/progress") else "root"
        checks = [
            c
            for c in every_check
            if operation.path not in creating or c.__name__ != "positive_data_acceptance"
        ]
        _fuzz(operation, checks, {"Authorization": f"Bearer {token(role)}"}, calls, failures)
    assert not failures, "\n\n".join(failures[:5])
    assert len(calls) >= 2000


def _fuzz(operation, checks, headers, calls, failures) -> None:  # type: ignore[no-untyped-def]
    @given(case=operation.as_strategy())
    @settings(
        max_examples=CASES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def keeps_the_contract(case) -> None:  # type: ignore[no-untyped-def]
        calls.append(operation.path)
        try:
            case.call_and_validate(headers=headers, checks=checks)
        except Exception as exc:  # collected: one report names every broken operation
            failures.append(f"{case.method} {case.formatted_path}: {exc}"[:2000])
            raise

    try:
        keeps_the_contract()
    except Exception:
        assert failures, "the operation could not be fuzzed"
