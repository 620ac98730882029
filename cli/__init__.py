"""The ``wfc`` command line (typer + rich).

``main`` is the console entry point; ``app`` is the typer application, for
tests (``typer.testing.CliRunner().invoke(app, [...])``) and for embedding.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

    from wfc.cli.app import app
    from wfc.cli.errors import CliError
    from wfc.specs.errors import WfcError

#: The public names imported on first use besides ``app`` (:func:`__getattr__`).
_LAZY = {"CliError": "wfc.cli.errors", "WfcError": "wfc.specs.errors"}


def __getattr__(name: str) -> Any:
    """``app``, ``CliError`` and ``WfcError``, imported on first use: the
    console script imports this package before :func:`main` can take
    Ctrl-C, so it must import nothing that takes time."""
    if name == "app":
        return _app()
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def _app() -> typer.Typer:
    """The typer application, imported with the cyclic collector off:
    importing typer makes many objects and no garbage, which the collector
    would only walk, again and again (see wfc.cli.lean_typer)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        from wfc.cli.app import app
    finally:
        if collecting:
            gc.enable()
    # Importing the module wfc.cli.app bound the package's ``app`` to it:
    # the package's ``app`` is the application.
    globals()["app"] = app
    return app


def main() -> None:
    """Run the ``wfc`` command line with the process's arguments.

    Ctrl-C, SIGTERM and SIGHUP are taken before the command line is
    imported: one that comes meanwhile (a tenth of a second) ends the
    process as an interrupted command, 130, where it printed the traceback
    of the import it cut short, or (SIGTERM) ended it with 143.

    The cyclic garbage collector is off while the command line is built and
    parsed (help is printed then) and back on, over what exists then frozen,
    once a command runs (:func:`~wfc.cli.lean_typer.collect_in_commands`)."""
    try:
        _open_closed_streams()
        _terminate_as_interrupt()
        app = _app()
        from wfc.cli.errors import exit_on_internal_error
        from wfc.cli.exiting import leave
        from wfc.cli.output import settle_size_variables
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    _escape_what_streams_cannot_encode()
    settle_size_variables()
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            app(prog_name="wfc")
        except Exception as exc:  # raised outside any command, e.g. while parsing
            exit_on_internal_error(exc)
    except SystemExit as done:
        _stop_at_once_from_now_on(done.code)
        leave(done.code)
    finally:
        if collecting:
            gc.enable()


def _stop_at_once_from_now_on(code: str | int | None) -> None:
    """The command is over: a stop signal while the interpreter shuts down
    (joining the threads the command left) ends the process at once, with
    the command's exit status. As Ctrl-C, it was raised into that shutdown,
    which printed a traceback."""
    import os
    import signal
    from types import FrameType

    from wfc.cli.exiting import stop_signals

    status = code if isinstance(code, int) else 0 if code is None else 1

    def stop(signum: int, frame: FrameType | None) -> None:
        os._exit(status)

    for signum in stop_signals():
        signal.signal(signum, stop)


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
    from wfc.cli.errors import undecoded_byte

    code = ord(char)
    if undecoded_byte(char):
        return bytes([code - 0xDC00]), error.start + 1
    escape = f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return escape, error.start + 1


__all__ = ["CliError", "WfcError", "app", "main"]
