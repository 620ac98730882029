"""``--otel`` of ``wfc worker``, ``wfc server`` and ``wfc run``: export
OpenTelemetry traces of every run this process serves (needs ``pip install
'wfc[otel]'``). OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set and an OTLP
exporter package is installed, else the spans are printed to stderr as JSON.
Nothing of OpenTelemetry is imported unless the flag is given."""

from typing import Annotated, Any

import typer

OtelOption = Annotated[
    bool,
    typer.Option(
        "--otel",
        help=(
            "Export OpenTelemetry traces of the runs (pip install 'wfc[otel]'): OTLP when "
            "OTEL_EXPORTER_OTLP_ENDPOINT is set, else JSON on stderr."
        ),
    ),
]


def tracing_for(enabled: bool) -> Any:
    """A :class:`~wfc.runtime.tracing.Tracing` from the environment when
    ``enabled``, else ``None``.

    Raises:
        UsageError: OpenTelemetry (or the OTLP exporter an endpoint asks for)
            is not installed; the message says what to install.
    """
    if not enabled:
        return None
    from wfc.runtime.tracing import Tracing

    return Tracing.from_environment()
