"""Finding the user's ``file:line`` in a traceback.

An exception raised while importing a workflow module, or while the compiler
runs a workflow function, is the user's to fix: the CLI names the innermost
line of *their* code instead of printing a traceback.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import sysconfig
import traceback

from wfc.cli.files import display

_WFC_PACKAGES = ("wfc.cli", "wfc.compiler", "wfc.dsl", "wfc.runtime", "wfc.specs", "wfc.testing")


@functools.cache
def _library_dirs() -> tuple[str, ...]:
    """Folders whose files are not the user's: wfc itself, the standard
    library and installed packages."""
    dirs = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    dirs.update(path for path in (sys.prefix, sys.base_prefix, sys.exec_prefix) if path != "/")
    for package in _WFC_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            dirs.update(spec.submodule_search_locations)
    return tuple(os.path.realpath(path) + os.sep for path in dirs)


def is_user_file(filename: str) -> bool:
    """Whether ``filename`` is the user's code rather than wfc's or a library's."""
    if filename.startswith("<"):
        return False  # <frozen importlib._bootstrap>, <string>, ...
    return not os.path.realpath(filename).startswith(_library_dirs())


def user_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """The innermost frame of ``exc``'s traceback that is in user code."""
    frames = traceback.extract_tb(exc.__traceback__)
    return next((frame for frame in reversed(frames) if is_user_file(frame.filename)), None)


def raised_in_user_code(exc: BaseException) -> bool:
    """Whether the innermost frame of ``exc``'s traceback is user code."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and is_user_file(frames[-1].filename)


def where(frame: traceback.FrameSummary) -> str:
    """``file:line`` of a frame, the file shown relative when it can be."""
    return f"{display(frame.filename)}:{frame.lineno}"
