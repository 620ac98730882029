"""The interpreter's modules depend one way: each imports only the modules
listed before it in :data:`LAYERS` (the order its package docstring states),
so no lower module can call up into a higher one."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import wfc.runtime.interpreter as interpreter

PACKAGE = "wfc.runtime.interpreter"

#: Bottom to top; modules on one line may not import each other.
LAYERS: list[set[str]] = [
    {"errors", "state", "expressions"},
    {"messages"},
    {"secrets", "policy", "variables"},
    {"specinfo", "copies", "migration"},
    {"context"},
    {"retries", "dispatch", "compensations", "edges", "redaction", "userrecords"},
    {"stopping"},
    {"saga"},
    {"threads"},
    {"inbox", "usertasks"},
    {"interrupts"},
    {"walk"},
    {"control"},
    {"results"},
    {"transitions"},
]


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE + "."):
            found.add(node.module.removeprefix(PACKAGE + "."))
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix(PACKAGE + ".") for a in node.names if a.name.startswith(PACKAGE + "."))
    return found


def test_every_module_has_a_layer() -> None:
    folder = Path(interpreter.__file__).parent
    modules = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
    assert modules == set().union(*LAYERS)


def test_modules_import_only_lower_layers() -> None:
    folder = Path(interpreter.__file__).parent
    level = {name: i for i, layer in enumerate(LAYERS) for name in layer}
    upward = [
        f"{module} imports {imported}"
        for module in level
        for imported in imports_of(folder / f"{module}.py")
        if level[imported] >= level[module] and imported != module
    ]
    assert upward == []


def outside_imports(path: Path) -> set[str]:
    """Top-level packages a module imports, except the interpreter itself."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in names if not name.startswith(PACKAGE))
    return found


def allowed(module: str) -> bool:
    """The pure interpreter may lean on the spec types, msgspec and the
    standard library only: no engine, store, clock source or I/O package."""
    top = module.split(".")[0]
    return (
        module == "wfc.specs"
        or module.startswith("wfc.specs.")
        or top == "msgspec"
        or (top in sys.stdlib_module_names and top != "wfc")
    )


def test_the_interpreter_imports_only_specs_msgspec_and_the_standard_library() -> None:
    folder = Path(interpreter.__file__).parent
    wrong = sorted(
        f"{path.name} imports {module}"
        for path in folder.glob("*.py")
        for module in outside_imports(path)
        if not allowed(module)
    )
    assert wrong == []
