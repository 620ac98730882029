"""Install wfc the way a user does (``pip install .``, not editable) into a
fresh virtualenv and check what lands in site-packages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = ("dsl", "compiler", "specs", "runtime", "cli", "testing", "server")

CHECK_INSTALL = """
import importlib.resources, importlib.util, json, sys
import wfc, wfc.dsl, wfc.compiler, wfc.specs, wfc.runtime, wfc.cli, wfc.testing, wfc.server
print(json.dumps({
    "namespace": getattr(wfc, "__file__", None) is None and len(list(wfc.__path__)) >= 1,
    "top_level": [name for name in sys.argv[1:] if importlib.util.find_spec(name) is not None],
    "grammar": importlib.resources.files("wfc.dsl").joinpath("grammar.lark").is_file(),
    "untyped": [name for name in sys.argv[1:]
                if not importlib.resources.files("wfc." + name).joinpath("py.typed").is_file()],
}))
"""


def run(args: list[str | Path], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def copy_source(target: Path) -> Path:
    """Copy what a source checkout needs to build, so the build leaves no
    ``build/`` or ``*.egg-info`` behind in the working tree."""
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, target / name)
    for name in SUBPACKAGES:
        shutil.copytree(ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
    return target


def test_pip_install_gives_one_wfc_namespace_and_a_working_cli(tmp_path: Path) -> None:
    source = copy_source(tmp_path / "src")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / ("Scripts" if sys.platform == "win32" else "bin")
    python = bin_dir / "python"

    run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", source], cwd=tmp_path)

    purelib = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=tmp_path)
    site_packages = Path(purelib.strip())
    missing = sorted(source_files(source) - source_files(site_packages / "wfc"))
    assert not missing, f"not installed (add them to packages / package-data in pyproject.toml): {missing}"
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert version in run([bin_dir / "wfc", "--version"], cwd=tmp_path)
    facts = json.loads(run([python, "-c", CHECK_INSTALL, *SUBPACKAGES], cwd=tmp_path))
    assert facts == {"namespace": True, "top_level": [], "grammar": True, "untyped": []}
    assert not (site_packages / "wfc" / "__init__.py").exists()
    assert sorted(p.name for p in (site_packages / "wfc").iterdir() if p.name != "__pycache__") == sorted(SUBPACKAGES)
    for name in SUBPACKAGES:
        assert not (site_packages / name).exists() and not (site_packages / f"{name}.py").exists()
    # Without the wfc[server] extra, the server says what to install.
    server = subprocess.run([str(bin_dir / "wfc"), "server"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert server.returncode == 1
    assert "pip install 'wfc[server]'" in server.stderr and "Traceback" not in server.stderr


def source_files(top: Path) -> set[str]:
    """Paths, relative to ``top``, of the files of every subpackage, caches
    and hidden files (``.mypy_cache``, …) aside."""
    return {
        str(path.relative_to(top))
        for name in SUBPACKAGES
        for path in (top / name).rglob("*")
        if path.is_file()
        and not any(part == "__pycache__" or part.startswith(".") for part in path.relative_to(top).parts)
    }
