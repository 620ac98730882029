"""--otel of wfc run (and worker, server): spans of the run on stderr as
JSON without an OTLP endpoint, and clear errors when OpenTelemetry or the
OTLP exporter an endpoint asks for is missing."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # run_helpers, with --import-mode=importlib

from run_helpers import PAYMENT, Invoke, make_invoke, no_traceback, sqlite_url, wfc_process

pytest.importorskip("opentelemetry.sdk.trace", reason="tracing tests need pip install 'wfc[otel]'")


@pytest.fixture
def wfc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    return make_invoke(monkeypatch, tmp_path)


def test_run_with_otel_prints_the_runs_spans_to_stderr_as_json(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "runs.db")
    env = {"OTEL_SERVICE_NAME": "payments"}
    done = wfc_process(tmp_path, "run", *PAYMENT, "--input", "payment-id=p-1", "--db", url, "--run-id", "p-1",
                       "--otel", env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "run p-1 (payment 1.0): COMPLETED" in done.stdout
    assert '"name": "run payment"' not in done.stdout  # stdout stays the program's
    names = re.findall(r'"name": "([^"]+)"', done.stderr)
    assert "run payment" in names and "task authorize-payment" in names
    assert '"service.name": "payments"' in done.stderr
    trace_ids = set(re.findall(r'"trace_id": "0x([0-9a-f]{32})"', done.stderr))
    assert len(trace_ids) == 1


def test_otel_without_opentelemetry_says_what_to_install(
    wfc: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    result = wfc("run", *PAYMENT, "--db", sqlite_url(tmp_path / "x.db"), "--otel")
    assert result.exit_code == 1
    assert "pip install 'wfc[otel]'" in result.output
    assert no_traceback(result)


def test_an_otlp_endpoint_without_the_otlp_exporter_names_the_package(
    wfc: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    result = wfc("worker", "--tasks", PAYMENT[2], "--db", sqlite_url(tmp_path / "x.db"), "--otel")
    assert result.exit_code == 1
    assert "pip install opentelemetry-exporter-otlp-proto-http" in result.output
    assert no_traceback(result)
