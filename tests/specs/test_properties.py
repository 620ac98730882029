"""Hypothesis properties of the spec codec.

* Valid specs, generated from a few threads of small node graphs, survive
  ``dumps``/``loads`` unchanged and byte for byte.
* ``loads`` on anything else (random JSON, spec-shaped JSON, mutations of a
  valid document) either succeeds or raises ``SpecError``, never another
  exception.
"""

from __future__ import annotations

import json
import re
import string
from typing import Any

import msgspec
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from wfc.specs import (
    FUNCTIONS,
    MUTATION_OPS,
    SCHEMA_ID,
    VAR_TYPES,
    Backoff,
    BinaryExpr,
    CallExpr,
    CompensateNode,
    Compensation,
    Edge,
    EntrypointNode,
    ExitNode,
    Expr,
    FailNode,
    FailureHandler,
    InterruptDef,
    ListExpr,
    LiteralExpr,
    Mutation,
    Node,
    NopNode,
    OutputRef,
    SleepNode,
    SleepUntilNode,
    SpawnThreadForEachNode,
    SpawnThreadNode,
    SpecError,
    TaskNode,
    ThreadSpec,
    UnaryExpr,
    VariableDef,
    VarRef,
    Version,
    WaitForEventNode,
    WaitForThreadsNode,
    WorkflowSpec,
    body_hash,
    dumps,
    loads,
    validate,
    with_hash,
)

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# A known bug must fail the same way every run, so report only the first one.
KNOWN_BUG = settings(PROPERTY, report_multiple_bugs=False)

# --- building blocks ------------------------------------------------------------------------------
# Strategies are built once, at import: expressions are drawn as templates whose
# variable and node references are placeholders, then bound to the names of the
# thread being built. (Building strategies inside a draw is very slow.)

LOWER = string.ascii_lowercase
DIGITS = string.digits


def word(head: str, tail: str, max_size: int) -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(head), st.text(tail, max_size=max_size)).map("".join)


#: Node ids, workflow and thread names: what the format's name rule accepts.
IDS = word(LOWER, LOWER + DIGITS + "_-", 7).filter(lambda s: s not in {"entrypoint", "exit"})
NAMES = word(LOWER + string.ascii_uppercase + DIGITS + "_", LOWER + DIGITS + "_.:-", 10)
#: Variable names, including ones that need quoting in the expression language.
VAR_NAMES = word(LOWER, LOWER + DIGITS + "_-", 6)
TEXT = st.text(max_size=12)
POSITIVE = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
OPTIONAL_POSITIVE = st.none() | POSITIVE

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(TEXT, children, max_size=4),
    ),
    max_leaves=12,
)

VAR_DEFAULTS: dict[str, st.SearchStrategy[Any]] = {
    "str": TEXT,
    "int": st.integers(min_value=-(2**53), max_value=2**53),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "bool": st.booleans(),
    "json": JSON_VALUES,
}

BINARY_OPS = ("+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or", "in")
PATHS = st.lists(st.one_of(TEXT, st.integers(min_value=-3, max_value=20)), max_size=3)
PLACEHOLDER = st.integers(min_value=0, max_value=9).map(lambda i: f"#{i}")


def _call(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    def build(item: tuple[str, tuple[int, int]]) -> st.SearchStrategy[Expr]:
        fn, (low, high) = item
        return st.lists(children, min_size=low, max_size=min(high, 3)).map(lambda args: CallExpr(fn=fn, args=args))

    return st.sampled_from(sorted(FUNCTIONS.items())).flatmap(build)


EXPR_TEMPLATES: st.SearchStrategy[Expr] = st.recursive(
    st.one_of(
        st.builds(LiteralExpr, value=JSON_VALUES),
        st.builds(VarRef, name=PLACEHOLDER, path=PATHS),
        st.builds(OutputRef, node=PLACEHOLDER, path=PATHS),
    ),
    lambda children: st.one_of(
        st.builds(BinaryExpr, op=st.sampled_from(BINARY_OPS), left=children, right=children),
        st.builds(UnaryExpr, op=st.sampled_from(("not", "-")), operand=children),
        _call(children),
        st.builds(ListExpr, items=st.lists(children, max_size=3)),
    ),
    max_leaves=6,
)


def bind(expr: Expr, var_names: list[str], node_ids: list[str]) -> Expr:
    """Replace the placeholders of an expression template by real names."""
    match expr:
        case VarRef(name=name):
            index = int(name[1:])
            if not var_names:
                return LiteralExpr(value=index)
            return msgspec.structs.replace(expr, name=var_names[index % len(var_names)])
        case OutputRef(node=node):
            return msgspec.structs.replace(expr, node=node_ids[int(node[1:]) % len(node_ids)])
        case BinaryExpr(left=left, right=right):
            return msgspec.structs.replace(
                expr, left=bind(left, var_names, node_ids), right=bind(right, var_names, node_ids)
            )
        case UnaryExpr(operand=operand):
            return msgspec.structs.replace(expr, operand=bind(operand, var_names, node_ids))
        case CallExpr(args=args):
            return msgspec.structs.replace(expr, args=[bind(a, var_names, node_ids) for a in args])
        case ListExpr(items=items):
            return msgspec.structs.replace(expr, items=[bind(i, var_names, node_ids) for i in items])
    return expr


@st.composite
def variable_defs(draw: st.DrawFn) -> VariableDef:
    var_type = draw(st.sampled_from(VAR_TYPES))
    default = draw(st.none() | VAR_DEFAULTS[var_type])
    masked = draw(st.booleans())
    return VariableDef(
        type=var_type,
        required=draw(st.booleans()),
        default=default,
        masked=masked,
        searchable=not masked and draw(st.booleans()),  # both together are invalid
    )


_TERMINAL = frozenset({"fail", "compensate"})
_KINDS = (
    "task",
    "nop",
    "sleep",
    "sleep_until",
    "wait_for_event",
    "spawn_thread",
    "spawn_thread_for_each",
    "wait_for_threads",
    "fail",
    "compensate",
)
INDEX = st.integers(min_value=0, max_value=99)
SMALL = st.integers(min_value=0, max_value=3)
FAILURE_KINDS = st.sampled_from(("error", "exception", "any"))
FAILURE_NAMES = st.none() | st.sampled_from(("TIMEOUT", "TASK_ERROR", "out-of-stock"))


@st.composite
def thread_specs(
    draw: st.DrawFn, thread_names: list[str], var_names: list[str], local_vars: dict[str, VariableDef]
) -> ThreadSpec:
    middle = draw(st.lists(IDS, max_size=5, unique=True))
    kinds = {node_id: draw(st.sampled_from(_KINDS)) for node_id in middle}
    spawns = [n for n, k in kinds.items() if k in {"spawn_thread", "spawn_thread_for_each"}]
    for node_id, kind in kinds.items():
        if kind == "wait_for_threads" and not spawns:
            kinds[node_id] = "nop"
    all_ids = ["entrypoint", *middle, "exit"]
    targets = [*middle, "exit"]

    def pick(options: list[str]) -> str:
        return options[draw(INDEX) % len(options)]

    def expr() -> Expr:
        return bind(draw(EXPR_TEMPLATES), var_names, all_ids)

    def maybe_expr() -> Expr | None:
        return expr() if draw(st.booleans()) else None

    def exprs(limit: int) -> list[Expr]:
        return [expr() for _ in range(draw(SMALL) % (limit + 1))]

    def condition() -> Expr | None:
        when = maybe_expr()
        # A literal true or false decides which edges can be taken; keep every edge takeable.
        return None if isinstance(when, LiteralExpr) and isinstance(when.value, bool) else when

    def edges(position: int) -> list[Edge]:
        """Edges of the node at ``position`` in ``targets`` (-1: the entrypoint).
        The first edge without a condition, the fallback, goes forward, so
        every node can reach the exit, as the format requires."""
        result: list[Edge] = []
        has_fallback = False
        for _ in range(1 + draw(SMALL) % 3):
            mutations = []
            if var_names:
                for _ in range(draw(SMALL) % 3):
                    op = draw(st.sampled_from(MUTATION_OPS))
                    mutations.append(Mutation(var=pick(var_names), op=op, value=expr()))
            when = condition()
            target = pick(targets) if when is not None or has_fallback else pick(targets[position + 1 :])
            has_fallback = has_fallback or when is None
            result.append(Edge(to=target, when=when, mutations=mutations))
        if not has_fallback:
            result.append(Edge(to=pick(targets[position + 1 :])))
        return result

    def handlers() -> list[FailureHandler]:
        return [
            FailureHandler(on=draw(FAILURE_KINDS), thread=pick(thread_names), name=draw(FAILURE_NAMES))
            for _ in range(draw(SMALL) % 3)
        ]

    def inputs() -> dict[str, Expr]:
        return {draw(VAR_NAMES): expr() for _ in range(draw(SMALL) % 3)}

    nodes: dict[str, Node] = {"entrypoint": EntrypointNode(edges=edges(-1))}
    for position, (node_id, kind) in enumerate(kinds.items()):
        common: dict[str, Any] = {"handlers": handlers(), "edges": [] if kind in _TERMINAL else edges(position)}
        node: Node
        match kind:
            case "task":
                compensation = None
                if draw(st.booleans()):
                    compensation = Compensation(task=draw(NAMES), args=exprs(2), retries=draw(SMALL))
                backoff = None
                if draw(st.booleans()):
                    initial = draw(POSITIVE)
                    multiplier, extra = 1.0 + draw(POSITIVE), draw(POSITIVE)
                    backoff = Backoff(initial=initial, multiplier=multiplier, maximum=initial + extra)
                node = TaskNode(
                    task=draw(NAMES),
                    args=exprs(3),
                    retries=draw(st.integers(min_value=0, max_value=10)),
                    backoff=backoff,
                    timeout=draw(OPTIONAL_POSITIVE),
                    compensation=compensation,
                    **common,
                )
            case "nop":
                node = NopNode(**common)
            case "sleep":
                node = SleepNode(seconds=_in_range(expr()), **common)
            case "sleep_until":
                node = SleepUntilNode(until=_in_range(expr()), **common)
            case "wait_for_event":
                node = WaitForEventNode(
                    event=draw(NAMES), timeout=draw(OPTIONAL_POSITIVE), correlation=maybe_expr(), **common
                )
            case "spawn_thread":
                node = SpawnThreadNode(thread=pick(thread_names), inputs=inputs(), **common)
            case "spawn_thread_for_each":
                node = SpawnThreadForEachNode(
                    thread=pick(thread_names), items=expr(), item_var=draw(VAR_NAMES), inputs=inputs(), **common
                )
            case "wait_for_threads":
                node = WaitForThreadsNode(
                    threads=[pick(spawns) for _ in range(1 + draw(SMALL) % 3)],
                    strategy=draw(st.sampled_from(("ALL", "FIRST", "ANY"))),
                    timeout=draw(OPTIONAL_POSITIVE),
                    **common,
                )
            case "fail":
                node = FailNode(failure=draw(NAMES), message=draw(TEXT), content=maybe_expr(), **common)
            case _:
                node = CompensateNode(**common)
        nodes[node_id] = node
    nodes["exit"] = ExitNode(edges=[], output=maybe_expr(), handlers=handlers())
    interrupts = [InterruptDef(event=draw(NAMES), thread=pick(thread_names)) for _ in range(draw(SMALL) % 3)]
    return ThreadSpec(nodes=nodes, variables=local_vars, interrupts=interrupts)



def _in_range(expr: Expr) -> Expr:
    """A literal duration or moment within the spec limits (100 years, the
    years 1 to 9999), which the validator refuses past them."""
    value = expr.value if isinstance(expr, LiteralExpr) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and not 0 <= value <= 1e6:
        return LiteralExpr(value=1.0)
    return expr

@st.composite
def workflow_specs(draw: st.DrawFn) -> WorkflowSpec:
    thread_names = draw(st.lists(IDS, min_size=1, max_size=3, unique=True))
    var_names = draw(st.lists(VAR_NAMES, max_size=4, unique=True))
    # Each variable is declared either by the workflow or by one thread.
    owners: list[str | None] = [None, *thread_names]
    owner = {name: owners[draw(INDEX) % len(owners)] for name in var_names}
    defs = {name: draw(variable_defs()) for name in var_names}
    threads = {
        thread: draw(thread_specs(thread_names, var_names, {n: d for n, d in defs.items() if owner[n] == thread}))
        for thread in thread_names
    }
    spec = WorkflowSpec(
        name=draw(NAMES),
        entrypoint=thread_names[0],
        threads=threads,
        schema=SCHEMA_ID,
        version=Version(
            major=draw(st.integers(min_value=1, max_value=10**6)),
            revision=draw(st.integers(min_value=0, max_value=10**6)),
        ),
        variables={n: d for n, d in defs.items() if owner[n] is None},
        output=draw(st.none() | st.sampled_from(VAR_TYPES)),
    )
    return with_hash(spec) if draw(st.booleans()) else spec


def reorder(value: Any) -> Any:
    """The same document with every dict's insertion order reversed."""
    if isinstance(value, msgspec.Struct):
        fields = {f: reorder(getattr(value, f)) for f in value.__struct_fields__}
        return msgspec.structs.replace(value, **fields)
    if isinstance(value, dict):
        return {k: reorder(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reorder(v) for v in value]
    return value


# --- valid specs ----------------------------------------------------------------------------------


def sorted_everywhere(value: Any) -> bool:
    if isinstance(value, dict):
        return list(value) == sorted(value) and all(sorted_everywhere(v) for v in value.values())
    if isinstance(value, list):
        return all(sorted_everywhere(v) for v in value)
    return True


@PROPERTY
@given(workflow_specs())
def test_valid_specs_round_trip_byte_for_byte(spec: WorkflowSpec) -> None:
    validate(spec)
    data = dumps(spec)
    again = loads(data)
    assert again == spec
    assert dumps(again) == data


@PROPERTY
@given(workflow_specs())
def test_dumps_is_canonical(spec: WorkflowSpec) -> None:
    data = dumps(spec)
    assert data.endswith(b"}\n") and not data.endswith(b"\n\n")
    assert sorted_everywhere(json.loads(data))
    for line in data.decode().split("\n")[:-1]:
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0 and line == line.rstrip()
    assert dumps(reorder(spec)) == data, "dict insertion order does not matter"


@PROPERTY
@given(workflow_specs(), st.integers(min_value=1, max_value=99), st.integers(min_value=0, max_value=99), NAMES)
def test_body_hash_ignores_version_but_not_the_body(spec: WorkflowSpec, major: int, revision: int, name: str) -> None:
    digest = body_hash(spec)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    bumped = msgspec.structs.replace(spec, version=Version(major=major, revision=revision))
    assert body_hash(bumped) == digest
    assert with_hash(bumped).hash == digest
    renamed = msgspec.structs.replace(spec, name=name)
    assert (body_hash(renamed) == digest) == (name == spec.name)


# --- invalid input: SpecError or success, nothing else --------------------------------------------


def loads_or_spec_error(value: Any) -> SpecError | None:
    try:
        loads(msgspec.json.encode(value))
    except SpecError as error:
        assert error.path.startswith("$")
        assert error.reason
        assert str(error) == f"invalid workflow spec at {error.path}: {error.reason}"
        return error
    return None


@PROPERTY
@given(JSON_VALUES)
def test_loads_on_arbitrary_json(value: Any) -> None:
    loads_or_spec_error(value)


def loads_bytes_or_spec_error(data: bytes) -> None:
    try:
        loads(data)
    except SpecError as error:
        assert error.path == "$"


@PROPERTY
@given(st.text(max_size=64).map(str.encode))
def test_loads_on_arbitrary_utf8(data: bytes) -> None:
    loads_bytes_or_spec_error(data)


@KNOWN_BUG
@given(st.binary(max_size=64))
@example(b'"\x80"')
def test_loads_on_arbitrary_bytes(data: bytes) -> None:
    loads_bytes_or_spec_error(data)


#: Field names of the format, so random documents reach deep into the types.
VOCABULARY = sorted(
    {
        field
        for cls in (
            WorkflowSpec,
            ThreadSpec,
            VariableDef,
            Version,
            InterruptDef,
            Edge,
            Mutation,
            FailureHandler,
            Backoff,
            Compensation,
            TaskNode,
            ExitNode,
            WaitForEventNode,
            SleepNode,
            SleepUntilNode,
            SpawnThreadNode,
            SpawnThreadForEachNode,
            WaitForThreadsNode,
            FailNode,
            LiteralExpr,
            VarRef,
            OutputRef,
            BinaryExpr,
            UnaryExpr,
            CallExpr,
            ListExpr,
        )
        for field in cls.__struct_fields__
    }
    | {"kind", "entrypoint", "exit", "main", "task", "binary", "var"}
)
SHAPED_VALUES = st.recursive(
    JSON_SCALARS | st.sampled_from(VOCABULARY),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(VOCABULARY) | TEXT, children, max_size=5),
    ),
    max_leaves=20,
)


def test_vocabulary() -> None:
    assert {"threads", "nodes", "variables", "edges", "retries", "kind", "inputs"} <= set(VOCABULARY)


_LOCATE_CRASH = "codec._locate calls .items() on thread nodes/variables without checking they are objects"


@KNOWN_BUG
@given(st.dictionaries(st.sampled_from(VOCABULARY), SHAPED_VALUES, max_size=8))
@example({"threads": {"main": {"nodes": ["x"]}}})
def test_loads_on_spec_shaped_json(value: dict[str, Any]) -> None:
    loads_or_spec_error(value)


# --- mutations of valid documents -----------------------------------------------------------------

Location = tuple[str | int, ...]


def locations(value: Any, here: Location = ()) -> list[tuple[Location, Any]]:
    """Every (path, value) inside a document, the root excluded."""
    found: list[tuple[Location, Any]] = []
    items: list[tuple[str | int, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, child in items:
        found.append(((*here, key), child))
        found.extend(locations(child, (*here, key)))
    return found


def parent_of(doc: Any, path: Location) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


def retyped(value: Any) -> list[Any]:
    """Plausible wrong-type replacements of a value."""
    return [None, str(value), [value], {"value": value}, 1, 1.5, True, ""]


@st.composite
def mutated_documents(draw: st.DrawFn, containers: bool) -> Any:
    """A valid spec's document after 1-3 random edits: delete a key or item,
    rename a key, add an unknown key, replace or retype a value (a scalar only,
    unless ``containers``)."""
    doc = json.loads(dumps(draw(workflow_specs())))
    for _ in range(1 + draw(SMALL) % 3):
        spots = locations(doc)
        path, value = spots[draw(INDEX) % len(spots)]
        parent = parent_of(doc, path)
        key = path[-1]
        ops = ["delete", "unknown"]
        if isinstance(parent, dict):
            ops.append("rename")
        if containers or not isinstance(value, dict | list):
            ops += ["replace", "retype"]
        op = draw(st.sampled_from(ops))
        if op == "delete":
            del parent[key]
        elif op == "rename":
            parent[draw(st.sampled_from(VOCABULARY) | TEXT)] = parent.pop(key)
        elif op == "replace":
            parent[key] = draw(JSON_VALUES)
        elif op == "retype":
            parent[key] = draw(st.sampled_from(retyped(value)))
        else:
            target = value if isinstance(value, dict) else parent if isinstance(parent, dict) else None
            if target is not None:
                target[draw(st.sampled_from(VOCABULARY) | TEXT)] = draw(JSON_SCALARS)
        if not locations(doc):
            break
    return doc


@PROPERTY
@given(mutated_documents(containers=False))
def test_loads_on_mutated_documents(doc: Any) -> None:
    loads_or_spec_error(doc)


def _small_doc() -> dict[str, Any]:
    spec = WorkflowSpec(
        name="w",
        entrypoint="main",
        schema=SCHEMA_ID,
        version=Version(major=1, revision=0),
        threads={
            "main": ThreadSpec(
                nodes={
                    "entrypoint": EntrypointNode(edges=[Edge(to="spawn")]),
                    "spawn": SpawnThreadNode(
                        thread="main", inputs={"x": LiteralExpr(value=1)}, edges=[Edge(to="exit")]
                    ),
                    "exit": ExitNode(edges=[]),
                }
            )
        },
    )
    return json.loads(dumps(spec))


def _thread_variables_not_an_object() -> dict[str, Any]:
    doc = _small_doc()
    doc["threads"]["main"]["variables"] = "x"
    return doc


def _bad_spawn_input() -> dict[str, Any]:
    doc = _small_doc()
    doc["threads"]["main"]["nodes"]["spawn"]["inputs"]["x"] = {"kind": "bad"}
    return doc


@KNOWN_BUG
@given(mutated_documents(containers=True))
@example(_thread_variables_not_an_object())
def test_loads_on_mutated_documents_with_containers_replaced(doc: Any) -> None:
    loads_or_spec_error(doc)


@KNOWN_BUG
@given(mutated_documents(containers=False))
@example(_bad_spawn_input())
def test_error_paths_never_hide_dict_keys(doc: Any) -> None:
    error = loads_or_spec_error(doc)
    assert error is None or "[...]" not in error.path, error.path


def test_small_documents_are_valid() -> None:
    loads(json.dumps(_small_doc()))
