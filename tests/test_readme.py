"""The READMEs are tested: every command in ``README.md`` and
``examples/README.md`` runs as written, in order, in a fresh copy of the
repository, and prints the lines the README shows.

How the blocks are read:

* Every fenced ```` ```sh ```` and ```` ```console ```` block is run, top to
  bottom, each README in its own copy of the repository (the working tree
  without ``.git``, databases and caches), from the copy's root. In a
  ``sh`` block every line is a command; in a ``console`` block a command is a
  line starting with ``$ `` (lines ending in ``\\`` continue it), and the
  lines after it, up to the next command, are what it prints.
* ``.venv/bin/`` is the virtualenv running this test: the copy's ``.venv`` is
  a symlink to ``sys.prefix``. The two install lines at the top of README.md
  (``python3.11 -m venv .venv && .venv/bin/pip install ... && REST``) are
  therefore not re-run: the test checks their structure (the interpreter, the
  venv path, that every extra they name exists in ``pyproject.toml``) and
  runs ``REST``. With ``WFC_README_INSTALL=1`` the install lines run for real
  (network, and a minute or more) in a copy without the symlink. Either way
  ``.venv/bin/pytest`` becomes ``.venv/bin/pytest --version``: the whole
  suite, this test included, cannot run inside this test.
* Each command must exit 0, unless the comment ``<!-- readme-test: exit=N -->``
  just above its block says otherwise.
* ``<!-- readme-test: background -->``: the block's one command keeps running
  (the README's "while it waits in one terminal"); the test goes on once the
  lines the block shows have appeared. The next block marked
  ``<!-- readme-test: background-output -->`` holds the rest of what it
  prints; the test then waits for it to end. A background command that has no
  such block is stopped with SIGTERM after the README's last block and must
  exit 0 (a ``wfc worker``).
* ``<!-- readme-test: postgres -->``: the block runs only when
  ``WFC_TEST_POSTGRES_URL`` names a database; any ``postgresql://`` URL in its
  commands is replaced by that one.
* ``export NAME=VALUE`` is applied to the environment of the later commands,
  as a shell would. Commands run with ``COLUMNS=120`` (the width the README's
  tables were captured at), ``PYTHONUNBUFFERED=1`` (so stdout and stderr
  interleave as on a terminal), ``NO_COLOR=1`` and without ``WFC_DB``.

How the output is compared (``normalise``), on the README's lines and on the
real ones alike: ANSI escapes are dropped and runs of spaces and of ``─`` squeezed
(table column widths follow their contents); durations such as ``+0.014s`` or
``in 5.30s`` become ``<dur>``; dates and clock times become ``<date>`` and
``<time>``; 12- and 32-digit hex ids (run ids, ids derived from idempotency
keys, event ids) become ``<hex>``; a worker's id, pid and host become
``<worker>``; PostgreSQL URLs become ``<postgres-url>``. A ``…`` in a README
line stands for any text (a cell the README's table cut). A line that is
``...`` (or ``…``) stands for any number of lines; every run of lines between
them must appear, contiguous and in order, and without a leading (trailing)
``...`` the output must start (end) with the README's lines. Blank lines
are ignored.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
READMES = ("README.md", "examples/README.md")
COMMAND_TIMEOUT = 60.0
INSTALL_TIMEOUT = 900.0
BACKGROUND_TIMEOUT = 30.0
ENVIRONMENT = {"COLUMNS": "120", "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
INSTALL = re.compile(r"^python3\.11 -m venv \.venv && \.venv/bin/pip install (?P<spec>(-e )?\S+) && (?P<rest>.+)$")
DIRECTIVE = re.compile(r"^<!--\s*readme-test:\s*(?P<words>.*?)\s*-->$")
FENCE = re.compile(r"^```(?P<lang>\S*)\s*$")
GAP = {"...", "…"}

#: Applied in order to both the README's lines and the real ones.
NORMALISATIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\x1b\[[0-9;?]*[A-Za-z]"), ""),
    (re.compile(r"postgresql://[^\s,]+"), "<postgres-url>"),
    (re.compile(r"wfc worker \S+ \(pid \d+ on [^)]*\)"), "wfc worker <worker>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}"), "<date>"),
    (re.compile(r"\d{2}:\d{2}:\d{2}(\.\d+)?"), "<time>"),
    (re.compile(r"\b\d+(\.\d+)?s\b"), "<dur>"),
    (re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])"), "<hex>"),
    (re.compile(r"(?<=[-_])[0-9a-f]{12}(?![0-9a-f])"), "<hex>"),
    (re.compile(r"─+"), "─"),
    (re.compile(r"\s+"), " "),
)


@dataclass
class Command:
    """One command of a README block and the lines the README shows it printing."""

    text: str
    line: int
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    """A fenced ``sh`` or ``console`` block and the directives above it."""

    path: str
    line: int
    lang: str
    directives: dict[str, str]
    commands: list[Command]
    output: list[str]  # the lines of a console block that has no command

    @property
    def where(self) -> str:
        """``README.md:123``, the block's opening fence."""
        return f"{self.path}:{self.line}"


def parse_directives(text: str) -> dict[str, str]:
    """``exit=1 background`` -> ``{"exit": "1", "background": ""}``."""
    words = (word.partition("=") for word in text.split())
    return {name: value for name, _, value in words}


def parse_blocks(path: str, text: str) -> list[Block]:
    """Every ``sh``/``console`` block of a Markdown file, in order."""
    lines = text.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if fence is None:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        if fence["lang"] in ("sh", "console"):
            above = DIRECTIVE.match(lines[index - 1].strip()) if index else None
            directives = parse_directives(above["words"]) if above else {}
            body = lines[index + 1 : end]
            commands, output = parse_body(fence["lang"], body, index + 2)
            blocks.append(Block(path, index + 1, fence["lang"], directives, commands, output))
        index = end + 1
    return blocks


def parse_body(lang: str, body: list[str], first_line: int) -> tuple[list[Command], list[str]]:
    """The commands of a block body and, for a console block without
    commands, its lines."""
    commands: list[Command] = []
    output: list[str] = []
    continued = False
    for number, line in enumerate(body, first_line):
        in_command = True
        if continued:
            commands[-1].text += "\n" + line
        elif lang == "sh" and line.strip():
            commands.append(Command(line, number))
        elif lang == "console" and line.startswith("$ "):
            commands.append(Command(line[2:], number))
        else:
            in_command = False
            if lang == "console":
                (commands[-1].expected if commands else output).append(line)
        continued = in_command and line.endswith("\\")
    return commands, output


def normalise(line: str) -> str:
    """A line with what varies between runs replaced (see the module docstring)."""
    for pattern, replacement in NORMALISATIONS:
        line = pattern.sub(replacement, line)
    return line.strip()


def line_matches(expected: str, actual: str) -> bool:
    """Whether a real line is the README's line; ``…`` matches any text."""
    want, got = normalise(expected), normalise(actual)
    if "…" not in want:
        return want == got
    pattern = ".*".join(re.escape(part.strip()) for part in want.split("…"))
    return re.fullmatch(pattern, got) is not None


def segments(expected: list[str]) -> list[list[str]]:
    """The README's lines cut at the ``...`` lines (empty first/last segment:
    the output may have more before/after)."""
    cut: list[list[str]] = [[]]
    for line in expected:
        if line.strip() in GAP:
            cut.append([])
        else:
            cut[-1].append(line)
    return cut


def found_at(part: list[str], actual: list[str], start: int) -> bool:
    """Whether the README lines ``part`` are the real lines from ``start`` on."""
    window = actual[start : start + len(part)]
    return len(window) == len(part) and all(line_matches(w, g) for w, g in zip(part, window, strict=True))


def mismatch(expected: list[str], actual: list[str]) -> str | None:
    """None when ``actual`` shows ``expected`` (see the module docstring),
    else which README lines were not found. Blank lines do not count."""
    actual = [line for line in actual if line.strip()]
    parts = segments([line for line in expected if line.strip()])
    position = 0
    for number, part in enumerate(parts):
        if not part:
            continue
        if number == 0:
            starts, where = [0], " at the start"
        elif number == len(parts) - 1:
            starts, where = [max(position, len(actual) - len(part))], " at the end"
        else:
            starts, where = list(range(position, len(actual))), ""
        found = next((start for start in starts if found_at(part, actual, start)), None)
        if found is None:
            return f"these README lines were not found{where}: {part}"
        position = found + len(part)
    if parts[-1] and position != len(actual):
        return f"the output goes on after the README's last line: {actual[position:]}"
    return None


def readme_blocks(readme: str) -> list[Block]:
    """The blocks of one README of this repository."""
    return parse_blocks(readme, (ROOT / readme).read_text(encoding="utf-8"))


# ---------------------------------------------------------------- running


def copy_repository(target: Path, link_venv: bool) -> Path:
    """A fresh copy of the working tree: no git metadata, databases, caches or build output."""
    ignored = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.db", "*.db-*", "build", ".pytest_cache",
                                     ".hypothesis", ".mypy_cache", ".ruff_cache", "*.egg-info")  # fmt: skip
    shutil.copytree(ROOT, target, ignore=ignored, symlinks=True)
    if link_venv:
        (target / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    return target


@dataclass
class Background:
    """A command left running, its output going to a file."""

    command: Command
    block: Block
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> list[str]:
        return self.log.read_text(encoding="utf-8", errors="replace").splitlines()


class Session:
    """Runs the blocks of one README in order, like a user at a shell."""

    def __init__(self, cwd: Path, postgres_url: str | None, install: bool) -> None:
        self.cwd = cwd
        self.postgres_url = postgres_url
        self.install = install
        self.env = {k: v for k, v in os.environ.items() if k != "WFC_DB"} | ENVIRONMENT
        self.background: list[Background] = []
        self.counter = 0

    def run_block(self, block: Block) -> None:
        """Run a block's commands and check their exit codes and output."""
        if "postgres" in block.directives and self.postgres_url is None:
            return
        if "background-output" in block.directives:
            self.finish_background(block)
            return
        for command in block.commands:
            text = self.prepared(block, command.text)
            if self.apply_export(text):
                continue
            if "background" in block.directives:
                self.start_background(block, command, text)
                continue
            self.run_one(block, command, text)

    def prepared(self, block: Block, text: str) -> str:
        """The command as it runs here: the test database for a postgres
        block; an install line checked, and without its install part unless
        ``WFC_README_INSTALL=1`` (see the module docstring)."""
        if "postgres" in block.directives and self.postgres_url is not None:
            text = re.sub(r"postgresql://\S+", self.postgres_url, text)
        install = INSTALL.match(text)
        if install is None:
            return text
        check_install_line(install["spec"], block.where)
        rest = install["rest"]
        if rest.strip() == ".venv/bin/pytest":  # the whole suite, this test included: not from inside it
            rest += " --version"
        return text[: install.start("rest")] + rest if self.install else rest

    def apply_export(self, text: str) -> bool:
        """Keep ``export NAME=VALUE`` for the later commands, as a shell would."""
        found = re.fullmatch(r"export (\w+)=(\S+)(\s+#.*)?", text.strip())
        if found is None:
            return False
        self.env[found[1]] = found[2]
        return True

    def run_one(self, block: Block, command: Command, text: str) -> None:
        timeout = INSTALL_TIMEOUT if self.install and INSTALL.match(command.text) else COMMAND_TIMEOUT
        try:
            done = subprocess.run(["bash", "-c", text], cwd=self.cwd, env=self.env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=timeout)  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"{block.path}:{command.line}: `{text}` still ran after {timeout}s: {exc.output!r}")
        output = done.stdout.decode("utf-8", errors="replace").splitlines()
        self.check(block, command, done.returncode, output, command.expected)

    def check(self, block: Block, command: Command, code: int, output: list[str], expected: list[str]) -> None:
        where = f"{block.path}:{command.line}: `{command.text}`"
        wanted = int(block.directives.get("exit", "0"))
        printed = "\n".join(output)
        assert code == wanted, f"{where} exited {code}, the README expects {wanted}; it printed:\n{printed}"
        if block.lang == "console":
            problem = mismatch(expected, output)
            assert problem is None, f"{where}: {problem}\nit printed:\n{printed}"

    def start_background(self, block: Block, command: Command, text: str) -> None:
        self.counter += 1
        log = self.cwd.parent / f"background-{self.counter}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(["bash", "-c", f"exec {text}"], cwd=self.cwd, env=self.env, stdout=sink,
                                       stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        started = Background(command, block, process, log)
        self.background.append(started)
        shown = [line for line in command.expected if line.strip() not in GAP] + ["..."]
        deadline = time.monotonic() + BACKGROUND_TIMEOUT
        while mismatch(shown, started.output()) is not None:
            if process.poll() is not None or time.monotonic() > deadline:
                self.stop(started)
                pytest.fail(f"{block.where}: `{text}` did not print the README's lines: {started.output()}")
            time.sleep(0.05)

    def finish_background(self, block: Block) -> None:
        assert self.background, f"{block.where}: a background-output block with no background command above it"
        started = self.background.pop()
        try:
            code = started.process.wait(timeout=BACKGROUND_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.stop(started)
            pytest.fail(f"{block.where}: `{started.command.text}` did not end: {started.output()}")
        expected = [*started.command.expected, "...", *block.output]
        self.check(started.block, started.command, code, started.output(), expected)

    def stop(self, started: Background) -> int:
        """SIGTERM a background command (and what it started); its exit code."""
        if started.process.poll() is None:
            os.killpg(started.process.pid, signal.SIGTERM)
        try:
            return started.process.wait(timeout=BACKGROUND_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(started.process.pid, signal.SIGKILL)
            return started.process.wait()

    def close(self) -> None:
        """Stop what still runs in the background; each must exit 0."""
        left, self.background = self.background, []
        codes = [(b.command.text, self.stop(b), b.output()) for b in left]
        failed = [c for c in codes if c[1] != 0]
        assert not failed, f"background commands did not stop cleanly on SIGTERM: {failed}"


def check_install_line(spec: str, where: str) -> None:
    """An install line installs this project, with extras that exist."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    found = re.fullmatch(r"(-e )?'?\.(\[(?P<extras>[\w,]+)\])?'?", spec.strip())
    assert found is not None, f"{where}: `pip install {spec}` does not install this project"
    named = [e for e in (found["extras"] or "").split(",") if e]
    assert set(named) <= set(extras), f"{where}: pip install names extras {named}, pyproject has {sorted(extras)}"


def with_schema(url: str, schema: str) -> str:
    """``url`` with ``?schema=NAME`` set, so the README's runs stay apart."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "schema"] + [("schema", schema)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def drop_schema(url: str, schema: str) -> None:
    """Remove the schema the README's PostgreSQL commands wrote to."""
    import asyncpg  # type: ignore[import-untyped]

    async def drop() -> None:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()

    asyncio.run(drop())


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    install = os.environ.get("WFC_README_INSTALL") == "1"
    copy = copy_repository(tmp_path / "wfc", link_venv=not install)
    postgres = os.environ.get("WFC_TEST_POSTGRES_URL")
    schema = f"readme_{uuid.uuid4().hex[:12]}"
    running = Session(copy, with_schema(postgres, schema) if postgres else None, install)
    try:
        yield running
    finally:
        for started in running.background:
            running.stop(started)
        if postgres:
            drop_schema(postgres, schema)


@pytest.mark.parametrize("readme", READMES)
def test_every_command_of_the_readme_runs_as_written(readme: str, session: Session) -> None:
    blocks = readme_blocks(readme)
    assert blocks, f"{readme} has no sh or console blocks"
    for block in blocks:
        session.run_block(block)
    session.close()


# ---------------------------------------------------------------- the reader itself


def test_the_install_lines_install_this_project_with_existing_extras() -> None:
    lines = [c.text for b in readme_blocks("README.md")[:2] for c in b.commands]
    found = [INSTALL.match(line) for line in lines]
    assert all(found), lines
    for match in found:
        assert match is not None
        check_install_line(match["spec"], "README.md")
    with pytest.raises(AssertionError, match="names extras"):
        check_install_line("-e '.[test,nosuch]'", "here")


def test_a_console_block_is_read_as_commands_and_their_output() -> None:
    text = (
        "<!-- readme-test: exit=1 -->\n"
        "```console\n$ wfc run a \\\n    -i x=1\nstarted run r-0123456789ab\n...\n$ wfc runs list\nnone\n```\n"
    )
    [block] = parse_blocks("R.md", text)
    assert block.directives == {"exit": "1"}
    assert [(c.text, c.line, c.expected) for c in block.commands] == [
        ("wfc run a \\\n    -i x=1", 3, ["started run r-0123456789ab", "..."]),
        ("wfc runs list", 7, ["none"]),
    ]


@pytest.mark.parametrize(
    ("expected", "actual", "ok"),
    [
        (["run r-0123456789ab: COMPLETED in 0.04s"], ["run r-fedcba987654:  COMPLETED in 1.25s"], True),
        (["run r-0123456789ab: COMPLETED in 0.04s"], ["run r-fedcba987654: FAILED in 1.25s"], False),
        ([' +0.014s  main  {"status": "au…'], [' +0.2s main {"status": "auth_1"}'], True),
        (["a", "b"], ["a", "x", "b"], False),
        (["a", "...", "b"], ["a", "x", "b"], True),
        (["a"], ["a", "more"], False),
        (["...", "b"], ["a", "b"], True),
        (["a", "..."], ["x", "a"], False),
        (["started 2026-11-22 05:19:19"], ["started 2027-01-02 17:00:01"], True),
        (["a", "...", "b"], ["a", "b", "x", "b"], True),
    ],
)
def test_output_is_compared_after_normalising_what_varies(expected: list[str], actual: list[str], ok: bool) -> None:
    assert (mismatch(expected, actual) is None) is ok


def test_a_command_that_fails_or_prints_other_lines_fails_the_check(tmp_path: Path) -> None:
    session = Session(tmp_path, None, install=False)
    [missing] = parse_blocks("R.md", "```sh\ntest -e /nonexistent/wfc-specs/checkout.json\n```\n")
    with pytest.raises(AssertionError, match=r"R.md:2: .* exited 1, the README expects 0"):
        session.run_block(missing)
    [other] = parse_blocks("R.md", "```console\n$ echo hello\nbye\n```\n")
    with pytest.raises(AssertionError, match="not found at the start"):
        session.run_block(other)
    [expected_failure] = parse_blocks("R.md", "<!-- readme-test: exit=3 -->\n```console\n$ echo no; exit 3\nno\n```\n")
    session.run_block(expected_failure)


def test_every_readme_file_line_is_in_a_block_the_test_reads() -> None:
    """Commands outside ``sh``/``console`` blocks would go untested: every
    ``$ `` line of the READMEs sits in one."""
    for readme in READMES:
        text = (ROOT / readme).read_text(encoding="utf-8")
        inside = {c.line for b in parse_blocks(readme, text) for c in b.commands}
        dollar = {n for n, line in enumerate(text.splitlines(), 1) if line.startswith("$ ")}
        assert dollar <= inside, f"{readme}: $ lines outside sh/console blocks: {sorted(dollar - inside)}"
