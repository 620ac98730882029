"""How failures reach the user: one clear paragraph and exit code 1.

Every command runs inside :class:`WfcGroup`, which turns a :class:`WfcError`
(a bad spec, a compile error, a missing file reported as :class:`CliError`)
or an :class:`OSError` into a message on stderr and exit code 1. Usage errors
are left to typer, which reports them with exit code 2. Anything else is a bug
in wfc: a short "internal error" message, and the traceback with ``--debug``.

So a problem of the user's environment must reach here as a :class:`WfcError`:
the stores turn a read-only, locked, damaged or foreign database, a bad URL and
an unreachable server into :class:`~wfc.runtime.errors.StoreError` subclasses
that say what to do (see :mod:`wfc.runtime.store.sqlite_setup` and
:mod:`wfc.runtime.store.postgres_setup`).
"""

from __future__ import annotations

import errno
import os
import sys
from typing import TYPE_CHECKING, Any, Final

import typer
from typer.core import TyperGroup

from wfc.cli import output
from wfc.cli.lean_typer import check_values_lightly, collect_in_commands
from wfc.specs.errors import WfcError

if TYPE_CHECKING:
    from typer._click import Context  # typer vendors click; TyperGroup.invoke takes its Context

#: Key in ``click.Context.meta`` telling whether ``--debug`` was given.
DEBUG_KEY = "wfc.debug"


class CliError(WfcError):
    """A problem with what the user asked the CLI to do: a file that does not
    exist, a module that does not import, nothing to compile. The message
    names the file or module and says what to do."""


class WfcGroup(TyperGroup):
    """The root command group: runs a command and reports its failure."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: Context | None = None, **extra: Any
    ) -> Context:
        """Parse ``args``: the values are checked without pydantic where
        typer's result is certain, and the command that runs turns the cyclic
        collector back on (see :mod:`wfc.cli.lean_typer`)."""
        check_values_lightly(self)
        collect_in_commands(self)
        return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: Context) -> Any:
        """Run the command; report any failure and exit with its code."""
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # typer's own exits and usage errors (exit code 2)
        except Exception as exc:
            debug = bool(ctx.meta.get(DEBUG_KEY, False))
            raise typer.Exit(report(exc, debug=debug)) from None


def report(exc: BaseException, *, debug: bool) -> int:
    """Print ``exc`` for the user and return the exit code to use."""
    if isinstance(exc, BrokenPipeError) and output.stdout_gone():
        # The reader of standard output went away (``wfc runs export | head``):
        # nothing to tell it, and a message would only clutter the terminal.
        # Exit code 1 all the same: the output was cut short.
        output.silence_stdout()
        return 1
    if debug:
        show_traceback(exc)
    if isinstance(exc, WfcError):
        output.print_error(_in_cli_words(str(exc)) + _undecoded_arguments())
    elif isinstance(exc, OSError):
        output.print_error(describe_os_error(exc))
    else:
        hint = "" if debug else "; rerun with --debug to see the traceback"
        output.print_error(
            f"internal error: {type(exc).__name__}: {exc}. This is a bug in wfc, not in your "
            f"workflow{hint}, and please report it."
        )
    return 1


#: What to do after a commit failed for a reason that may pass (a full disk),
#: for a user of the CLI: the store's advice names the Python API.
RETRY_ADVICE: Final = (
    "run the command again once that is fixed (`wfc run` with the same --run-id, or `wfc event send` with the same "
    "--event-id, never applies twice)"
)


def _in_cli_words(message: str) -> str:
    """``message`` with the store's advice for the Python API said for the CLI."""
    core = sys.modules.get("wfc.runtime.store.core")  # loaded if one of its errors is told: not loaded for this
    advice = getattr(core, "RETRY_ADVICE", None)
    return message.replace(advice, RETRY_ADVICE) if isinstance(advice, str) else message


def undecoded_byte(char: str) -> bool:
    """Whether ``char`` stands for a byte the locale's encoding could not
    decode (``surrogateescape``: U+DC80..U+DCFF for the bytes 0x80..0xFF)."""
    return 0xDC80 <= ord(char) <= 0xDCFF


def _undecoded_arguments() -> str:
    """Why an argument holds what is not text, when the locale is the
    cause: outside UTF-8 mode in the C locale (``LC_ALL=C PYTHONUTF8=0``)
    Python reads the command line as ASCII, and ``é`` of a run id reaches
    wfc as two undecodable bytes, which no run id or value may hold."""
    encoding = sys.getfilesystemencoding()
    if sys.flags.utf8_mode or encoding.lower().replace("-", "") == "utf8":
        return ""
    if not any(undecoded_byte(char) for arg in sys.argv[1:] for char in arg):
        return ""
    return (
        f". The command line holds characters that the locale's encoding ({encoding}) cannot read, so they "
        "reached wfc as bytes, not text: run it in a UTF-8 locale (LC_ALL=C.UTF-8) or with PYTHONUTF8=1"
    )


def show_traceback(exc: BaseException) -> None:
    """Print the traceback of ``exc`` on stderr."""
    from rich.traceback import Traceback

    trace = Traceback.from_exception(type(exc), exc, exc.__traceback__, width=110)
    output.stderr().print(trace)


def describe_os_error(exc: OSError, what: str = "") -> str:
    """One sentence for a failed file operation, naming the file."""
    target = f"{what} {exc.filename}" if what else str(exc.filename)
    if isinstance(exc, FileNotFoundError) and relative_to_gone_directory(exc.filename):
        return gone_directory_message(target if exc.filename is not None else None)
    match exc:
        case FileNotFoundError() if isinstance(exc.filename, str) and os.path.islink(exc.filename):
            return (
                f"{target} is a symbolic link to {os.readlink(exc.filename)}, which does not exist; "
                "check the link"
            )
        case FileNotFoundError():
            return f"{target}: no such file or directory; check the path"
        case IsADirectoryError():
            return f"{target} is a directory; give the path of a file"
        case NotADirectoryError():
            return f"{target}: a part of this path is a file, not a directory"
        case PermissionError():
            return f"{target}: permission denied; check its permissions and those of its folder"
        case OSError() if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            ran_out = "no space is left on the disk" if exc.errno == errno.ENOSPC else "the disk quota is used up"
            todo = "free space on the disk that holds it, then run the command again"
            return f"{target}: {ran_out} ({exc.strerror}); {todo}" if exc.filename is not None else f"{ran_out}; {todo}"
        case OSError() if exc.errno in (errno.EMFILE, errno.ENFILE):
            from wfc.runtime.open_files import out_of_files_message

            told = f"{target}: {exc.strerror}" if exc.filename is not None else str(exc.strerror)
            return out_of_files_message(told, system=exc.errno == errno.ENFILE)
    reason = exc.strerror or str(exc)
    return f"{target}: {reason}" if exc.filename is not None else reason


def relative_to_gone_directory(path: object) -> bool:
    """Whether ``path`` (``None``: a path not named) is relative to a
    working directory that no longer exists: the shell's directory was
    deleted, or moved, after the shell entered it. Every path relative to
    it fails, with an error naming no directory (``os.getcwd()``'s names
    nothing at all)."""
    if isinstance(path, str | os.PathLike) and os.path.isabs(path):
        return False
    try:
        os.getcwd()
    except FileNotFoundError:
        return True
    return False


def gone_directory_message(target: str | None, *, absolute_helps: bool = True) -> str:
    """The message of :func:`relative_to_gone_directory`, about ``target``
    if one is named; ``absolute_helps``: giving an absolute path instead is
    a way out."""
    return (
        f"{f'{target}: ' if target else ''}the current directory no longer exists (it was deleted or moved after "
        f"the shell entered it), so no path relative to it can be used; cd to an existing directory"
        f"{', or give an absolute path' if absolute_helps else ' and run the command again'}"
    )


def exit_on_internal_error(exc: Exception) -> None:
    """Last resort for :func:`wfc.cli.main`: report an exception raised
    outside any command and exit 1."""
    debug = "--debug" in sys.argv[1:]
    raise SystemExit(report(exc, debug=debug))
