"""Consoles and the few message styles every command shares.

Consoles are made per call, not at import: a console decides colour and width
when it is created, and tests (and ``wfc`` run under a pager) swap the
standard streams after import. Rich itself is imported on first use: ``wfc
--help`` must not pay for it.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import IO, TYPE_CHECKING, Any, Final

from wfc.cli import visible
from wfc.specs.errors import WfcError

if TYPE_CHECKING:
    from rich.console import Console

#: Width of a console that is not a terminal (a pipe, a file): wide enough
#: that nothing is ever wrapped or cut. Rich would otherwise use 80 columns,
#: and ``wfc runs list | grep`` would see cut ids. An exported ``$COLUMNS``
#: is an explicit request for a width, and is honoured.
UNLIMITED: Final = 1_000_000

#: The narrowest a console is made: below it rich cuts a table's cells to
#: nothing (``COLUMNS=0`` printed no line at all), where text too wide for a
#: narrow terminal only wraps.
NARROWEST: Final = 40

#: The widest ``$COLUMNS`` taken as a terminal's width. No terminal is
#: wider, and help drawn that wide pads every line to it (``COLUMNS=100000
#: wfc --help`` wrote 3 MB of spaces).
WIDEST: Final = 10_000


def settle_size_variables() -> None:
    """Make the process's ``$COLUMNS``, ``$LINES`` and ``$TERMINAL_WIDTH``
    (typer's) sizes a console can have, before any console reads them: typer
    draws help and usage errors with consoles of its own, which read them
    directly (``COLUMNS=1`` drew help one letter a line, ``COLUMNS=0``
    drew nothing, ``TERMINAL_WIDTH=abc`` failed).

    A value that is not a whole number from 1 to :data:`WIDEST` says
    nothing about a terminal and is dropped: a terminal's own size is used,
    and a pipe's lines are not cut. A width under :data:`NARROWEST` is
    raised to it."""
    for name, narrowest in (("COLUMNS", NARROWEST), ("TERMINAL_WIDTH", NARROWEST), ("LINES", 1)):
        value = os.environ.get(name)
        if value is None:
            continue
        text = value.strip()
        size = int(text) if text.isascii() and text.isdigit() else 0
        if not 1 <= size <= WIDEST:
            del os.environ[name]
        elif str(max(size, narrowest)) != value:
            os.environ[name] = str(max(size, narrowest))


def stdout(*, gone_fails: bool = False) -> Console:
    """A console writing results to standard output; a reader that went
    away (``wfc run ... | head``, a terminal that closed) silences it
    instead of failing the command, unless ``gone_fails`` (see :func:`echo`)."""
    from rich.console import Console

    visible.install()
    _note_terminal(sys.stdout)
    return _sized(Console(file=_STREAM if gone_fails else _STDOUT, highlight=False))


def stderr() -> Console:
    """A console writing diagnostics to standard error; a terminal that
    closed silences it (see :class:`_Stderr`)."""
    from rich.console import Console

    visible.install()
    _note_terminal(sys.stderr)
    return _sized(Console(file=_STDERR, stderr=True, highlight=False))


def _sized(console: Console) -> Console:
    """A terminal keeps its width; anything else gets lines of any length,
    unless ``$COLUMNS`` asks for a width (rich then uses it); none is
    narrower than :data:`NARROWEST`."""
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = UNLIMITED
    elif console.width < NARROWEST:
        console.width = NARROWEST
    return console


def print_error(message: str) -> None:
    """Print ``error: message`` on stderr. The message is shown as is, never
    read as rich markup, and is left for the terminal to wrap so that paths
    in it stay whole. A database password in it is shown as ``***``."""
    from rich.text import Text

    from wfc.runtime._urls import redact_url

    stderr().print(Text.assemble(("error: ", "bold red"), redact_url(message)), soft_wrap=True)


def print_warning(message: str) -> None:
    """Print ``warning: message`` on stderr, in yellow."""
    from rich.text import Text

    stderr().print(Text.assemble(("warning: ", "bold yellow"), (message, "yellow")), soft_wrap=True)


def silence_stdout() -> None:
    """Send whatever is still written to standard output to the null device:
    its reader is gone (a closed pipe, a terminal that closed). The command
    goes on, and ends with its own exit code rather than a broken-pipe
    error; the interpreter's last flush at exit finds nothing to complain
    about."""
    _silence(sys.stdout)


def _silence(stream: object) -> None:
    """Point the file descriptor of ``stream`` at the null device."""
    fileno = _fileno(stream)
    if fileno is None:
        return  # not a real file (tests): nothing to redirect
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fileno)
    finally:
        os.close(null)


def _fileno(stream: object) -> int | None:
    """The file descriptor under ``stream``, if it has one."""
    try:
        fileno = stream.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return None
    return fileno if isinstance(fileno, int) else None


#: The file descriptors seen to be terminals while they were open: once the
#: terminal has hung up, ``isatty`` says no (its ioctls fail with EIO).
_TERMINALS: Final[set[int]] = set()


def _note_terminal(stream: object) -> None:
    """Remember whether ``stream`` is a terminal (see :func:`terminal_gone`)."""
    fileno = _fileno(stream)
    try:
        if fileno is not None and os.isatty(fileno):
            _TERMINALS.add(fileno)
    except OSError:
        pass


def terminal_gone(error: OSError, stream: object) -> bool:
    """Whether ``error``, raised writing to ``stream``, says that the stream
    is a terminal that hung up (its window was closed, the SSH session
    dropped: the process got SIGHUP, and every write fails with EIO, or
    ENXIO on some systems). Nobody is there to read any more, as when the
    reader of a pipe is gone. EIO writing a file or a disk is a real I/O
    error and says no, as does any other error (a full disk)."""
    if error.errno not in (errno.EIO, errno.ENXIO):
        return False
    fileno = _fileno(stream)
    return fileno is not None and (fileno in _TERMINALS or _is_terminal(fileno))


def _is_terminal(fileno: int) -> bool:
    """Whether ``fileno`` is a terminal, live or hung up: the ioctl behind
    ``isatty`` fails with EIO on a terminal that hung up, with ENOTTY on
    anything that is no terminal."""
    try:
        import termios
    except ImportError:  # Windows
        return False
    try:
        termios.tcgetattr(fileno)
    except termios.error as exc:
        return bool(exc.args) and exc.args[0] == errno.EIO
    except (OSError, ValueError):
        return False
    return True


def stdout_gone() -> bool:
    """Whether standard output is a pipe whose reader has gone (``wfc ... |
    head`` after head exits): tells a broken pipe of standard output from
    one of a socket (a database, a server), which is a real failure. Asks
    the system (poll reports an error on such a pipe), so where it cannot
    be asked the answer is no, and the error is shown."""
    import select

    try:
        fileno = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    if not hasattr(select, "poll"):  # Windows
        return False
    poller = select.poll()
    poller.register(fileno, select.POLLOUT)
    try:
        ready = poller.poll(0)
    except OSError:
        return False
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in ready)


class OutputError(WfcError):
    """Standard output cannot be written (a full disk, an I/O error): said
    as such, where the bare ``No space left on device`` named nothing."""

    def __init__(self, error: OSError) -> None:
        super().__init__(f"cannot write to standard output: {error.strerror or error}")


class _Standard:
    """``sys.stdout`` or ``sys.stderr`` (``name``) as it is at each write
    (tests swap it), where a terminal that hung up silences the stream (see
    :meth:`_gone`).

    While a :class:`rich.live.Live` shows, ``sys.stdout`` and ``sys.stderr``
    are rich's proxies, which draw what is written to them above the live
    display with the live console; that console writes to the stream under
    the proxy, which rich finds as the ``rich_proxied_file`` of its file:
    here, this same stream wrapped (``unproxied``)."""

    def __init__(self, name: str, *, gone_fails: bool = False, unproxied: bool = False) -> None:
        self._name = name
        self._gone_fails = gone_fails
        self._unproxied = unproxied

    def _target(self) -> IO[str]:
        stream: IO[str] = getattr(sys, self._name)
        return getattr(stream, "rich_proxied_file", stream) if self._unproxied else stream

    def write(self, text: str) -> int:
        try:
            return self._target().write(text)
        except OSError as exc:
            self._gone(exc)
            return len(text)

    def flush(self) -> None:
        try:
            self._target().flush()
        except OSError as exc:
            self._gone(exc)

    def _gone(self, exc: OSError) -> None:
        """Silence the stream if ``exc`` says it is a terminal that hung up
        (nobody reads it any more); raise ``exc`` otherwise."""
        if not terminal_gone(exc, self._target()):
            raise exc
        _silence(self._target())

    @property
    def rich_proxied_file(self) -> _Standard:
        """This stream under rich's proxy, while a live display shows."""
        if not hasattr(getattr(sys, self._name), "rich_proxied_file"):
            raise AttributeError("rich_proxied_file")  # not proxied: rich writes to this object itself
        return type(self)(self._name, gone_fails=self._gone_fails, unproxied=True)

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding ... of the real stream
        if name == "rich_proxied_file":
            raise AttributeError(name)
        return getattr(self._target(), name)


class _Stdout(_Standard):
    """Standard output, where a closed pipe or a terminal that hung up
    silences the stream instead of raising :class:`BrokenPipeError` or EIO
    (unless ``gone_fails``: then a :class:`BrokenPipeError`), and any other
    failure to write (a full disk, an I/O error of a file) is an
    :class:`OutputError`."""

    def __init__(self, name: str = "stdout", *, gone_fails: bool = False, unproxied: bool = False) -> None:
        super().__init__(name, gone_fails=gone_fails, unproxied=unproxied)

    def _gone(self, exc: OSError) -> None:
        """Silence standard output if ``exc`` says its reader is gone, unless
        ``gone_fails``; raise what the command is to fail with otherwise."""
        if isinstance(exc, BrokenPipeError):
            if self._gone_fails:
                raise exc
        elif terminal_gone(exc, self._target()):
            if self._gone_fails:  # told as a reader gone (:func:`wfc.cli.errors.report`)
                raise BrokenPipeError(errno.EPIPE, exc.strerror) from None
        else:
            raise OutputError(exc) from None
        _silence(self._target())


_STDOUT: Final[IO[str]] = _Stdout()  # type: ignore[assignment]
#: For a stream of records (``wfc runs export``, ``wfc runs watch``): one
#: that a gone reader cut short must not look whole, or go on for nobody.
_STREAM: Final[IO[str]] = _Stdout(gone_fails=True)  # type: ignore[assignment]
#: Standard error, silenced by a terminal that hung up: the messages of a
#: command stopping because its terminal closed (SIGHUP) have nobody to
#: read them, and failing to write them must not keep it from stopping
#: cleanly. Any other failure to write is raised as it is.
_STDERR: Final[IO[str]] = _Standard("stderr")  # type: ignore[assignment]


def echo(text: str, *, nl: bool = True, gone_fails: bool = False, json: bool = False) -> None:
    """Write ``text`` (a JSON document, a run id) to standard output, as
    every command's results are: a reader gone (a closed pipe, a terminal
    that hung up) is no error, a full disk is
    an :class:`OutputError`. ``gone_fails``: a reader gone fails the
    command all the same (exit 1, quietly: :func:`wfc.cli.errors.report`),
    for a stream of records that must not look whole when it was cut.
    ``json``: ``text`` is JSON, which must stay JSON on a stream that cannot
    encode all of it (see :func:`json_for_stdout`)."""
    if json:
        text = json_for_stdout(text)
    stream = _STREAM if gone_fails else _STDOUT
    stream.write(f"{text}\n" if nl else text)
    stream.flush()


def json_for_stdout(text: str) -> str:
    """The JSON ``text`` as standard output can take it: where its encoding
    lacks a character (``PYTHONIOENCODING=ascii``, ``LC_ALL=C``), every
    character beyond ASCII is written as a JSON escape, ``\\u00e9``. The
    stream would otherwise escape it its own way, ``\\xe9``, which no JSON
    parser reads. Outside strings JSON holds only ASCII, so this changes
    nothing but how the strings are spelled."""
    if text.isascii():
        return text
    try:
        text.encode(getattr(sys.stdout, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        import json
        import re

        return re.sub(r"[^\x00-\x7f]", lambda char: json.dumps(char.group())[1:-1], text)
    return text


# Whether the standard streams are terminals, while they surely are open
# (see :func:`terminal_gone`); consoles note it again as they are made.
for _stream in (sys.stdout, sys.stderr):
    _note_terminal(_stream)
del _stream
