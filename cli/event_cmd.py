"""``wfc event send``: deliver an external event to a run, by run id or by
correlation key.

An event sent to a run that is not waiting for it yet is kept in the run's
inbox and consumed by its next wait for that name; an event sent by
correlation key with no run waiting for it is stored until a wait with that
key appears. The command says which happened.
"""

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wfc.cli import output
from wfc.cli.engine_access import DEFAULT_DB, DbOption, client, database_url, run_async, wfc_command

if TYPE_CHECKING:
    from wfc.runtime import Engine, SentEvent

event_app = typer.Typer(help="Send external events to runs.", no_args_is_help=True)


def parse_payload(text: str | None) -> Any:
    """The payload argument as JSON (``-``: read it from stdin; none: ``null``).

    Raises:
        typer.BadParameter: it is not JSON (a usage error, exit code 2).
    """
    from wfc.cli.inputs import load_json

    if text is None:
        return None
    source = sys.stdin.read() if text == "-" else text
    try:
        return load_json(source)
    except ValueError as exc:
        raise typer.BadParameter(
            f"not JSON ({exc}): {source[:80]!r}; write the payload as JSON, "
            f"e.g. '{{\"approved\": true}}', or quote a string: '\"yes\"'",
            param_hint="JSON_PAYLOAD",
        ) from None


@event_app.command("send")
def send_command(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The event name, as the workflow waits for it.")],
    payload: Annotated[
        str | None, typer.Argument(metavar="[JSON_PAYLOAD]", help="The payload as JSON ('-': stdin); default null.")
    ] = None,
    run_id: Annotated[str | None, typer.Option("--run", metavar="ID", help="Deliver to this run.")] = None,
    correlation: Annotated[
        str | None, typer.Option("--correlation", "-c", metavar="KEY", help="Deliver to the run waiting with this key.")
    ] = None,
    event_id: Annotated[
        str | None, typer.Option("--event-id", metavar="ID", help="Makes sending idempotent: a repeat does nothing.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Send event NAME to one run, chosen by --run ID or --correlation KEY."""
    if (run_id is None) == (correlation is None):
        raise typer.BadParameter(
            "give exactly one of --run ID (a run you know) or --correlation KEY (the run waiting with that key)",
            param_hint="'--run' / '--correlation'",
        )
    from wfc.cli.json_docs import event_document, print_json

    value = parse_payload(payload)
    url = database_url(db)

    async def send() -> None:
        async with client(url) as engine:
            sent = await engine.send_event(name, value, run_id=run_id, correlation=correlation, event_id=event_id)
            if as_json:
                print_json(event_document(name, sent))
            else:
                await _report(engine, name, sent, correlation, url)

    run_async(send)


async def _report(engine: "Engine", name: str, sent: "SentEvent", correlation: str | None, url: str) -> None:
    from rich.text import Text

    from wfc.cli.run_views import status_text, where_now

    console = output.stdout()
    if sent.duplicate:
        console.print(
            Text(f"event {name!r} with id {sent.event_id} was sent before; nothing was delivered again"),
            soft_wrap=True,
        )
        return
    if sent.run_id is None:
        console.print(
            Text(
                f"event {name!r} (id {sent.event_id}) is stored: no run waits for it with correlation "
                f"{correlation!r} yet; the first wait for it with that key will consume it"
            ),
            soft_wrap=True,
        )
        return
    info = await engine.get_run(sent.run_id)
    served = await engine.serving_engines() > 0
    fate = "kept in the run's inbox until a wait takes it" if name in info.pending_events else "delivered"
    console.print(
        Text.assemble(
            f"event {name!r} (id {sent.event_id}) {fate}: run {info.id} is ",
            status_text(info.status),
            f", {where_now(info, served)}",
        ),
        soft_wrap=True,
    )
    console.print(Text(f"see `{wfc_command('runs', 'show', info.id, url=url)}`", style="dim"), soft_wrap=True)
