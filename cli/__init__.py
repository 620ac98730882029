"""The ``wfc`` command line (typer + rich).

``main`` is the console entry point; ``app`` is the typer application, for
tests (``typer.testing.CliRunner().invoke(app, [...])``) and for embedding.
"""

from __future__ import annotations

import gc

# Importing typer makes many objects and no garbage: the cyclic collector
# would only walk them, again and again (see wfc.cli.lean_typer).
_collecting = gc.isenabled()
gc.disable()
try:
    from wfc.cli.app import app
    from wfc.cli.errors import CliError, exit_on_internal_error, undecoded_byte
    from wfc.cli.exiting import leave
    from wfc.cli.output import settle_size_variables
    from wfc.specs.errors import WfcError
finally:
    if _collecting:
        gc.enable()


def main() -> None:
    """Run the ``wfc`` command line with the process's arguments.

    The cyclic garbage collector is off while the command line is built and
    parsed (help is printed then) and back on, over what exists then frozen,
    once a command runs (:func:`~wfc.cli.lean_typer.collect_in_commands`)."""
    _open_closed_streams()
    _escape_what_streams_cannot_encode()
    settle_size_variables()
    _terminate_as_interrupt()
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            app(prog_name="wfc")
        except Exception as exc:  # raised outside any command, e.g. while parsing
            exit_on_internal_error(exc)
    except SystemExit as done:
        leave(done.code)
    finally:
        if collecting:
            gc.enable()


def _open_closed_streams() -> None:
    """A standard stream the caller closed (``wfc runs list >&-``) is the
    null device instead: it reads as empty and takes what is written, as a
    reader gone from a pipe does (see :func:`~wfc.cli.exiting.leave`).
    Python gives ``None`` for it, which every print and read would trip on."""
    import os
    import sys

    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115 - the process's own, for its lifetime


def _terminate_as_interrupt() -> None:
    """SIGTERM (``timeout``, systemd, ``docker stop``) and SIGHUP (the
    terminal closed; see :func:`~wfc.cli.exiting.stop_signals`) end a
    command the way Ctrl-C does: ``wfc run`` says where the run is and
    unregisters its engine, where Python's default would end the process on
    the spot. ``wfc worker`` and ``wfc server`` take these signals
    themselves while they serve."""
    import signal
    from types import FrameType

    from wfc.cli.exiting import stop_signals

    def interrupt(signum: int, frame: FrameType | None) -> None:
        on_interrupt = signal.getsignal(signal.SIGINT)
        if callable(on_interrupt) and on_interrupt is not signal.default_int_handler:
            on_interrupt(signal.SIGINT, frame)  # asyncio's runner: it cancels the command's task, then raises
            return
        raise KeyboardInterrupt  # also where SIGINT is ignored (a background job of a script)

    for stop in stop_signals():
        if stop is not signal.SIGINT:
            signal.signal(stop, interrupt)


#: The error handler of a stream that writes undecodable bytes back (see
#: :func:`_escape_what_streams_cannot_encode`).
_ESCAPE = "wfc-surrogateescape-backslashreplace"


def _escape_what_streams_cannot_encode() -> None:
    """Print a character the output's encoding lacks (``ü`` of a run id, with
    ``LANG=C`` or ``PYTHONIOENCODING=ascii``) as an escape, ``\\xfc``, rather
    than fail the command over it: the rest of what it prints stays true.

    Python gives a stream in the C locale without UTF-8 mode (``LC_ALL=C
    PYTHONUTF8=0``) the ``surrogateescape`` handler, which writes back the
    bytes of an argument it could not decode but fails on any other
    character: the handler here does both."""
    import codecs
    import io
    import sys

    codecs.register_error(_ESCAPE, _escape)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="backslashreplace")
        elif isinstance(stream, io.TextIOWrapper) and stream.errors == "surrogateescape":
            stream.reconfigure(errors=_ESCAPE)


def _escape(error: UnicodeError) -> tuple[str | bytes, int]:
    """A character an encoding lacks, as the byte it stands for (an
    undecodable byte of an argument, ``surrogateescape``'s U+DC80..U+DCFF)
    or as a backslash escape (``backslashreplace``)."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    char = error.object[error.start]
    code = ord(char)
    if undecoded_byte(char):
        return bytes([code - 0xDC00]), error.start + 1
    escape = f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return escape, error.start + 1


__all__ = ["CliError", "WfcError", "app", "main"]
