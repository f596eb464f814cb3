"""The package installs what it imports: every third-party import of ``cgflow`` belongs to a
distribution that ``pyproject.toml`` declares (core dependencies for module-level imports,
an extra for the data generator and for imports made inside functions)."""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cgflow"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0].strip().lower().replace("_", "-") for r in requirements}


@functools.cache
def installed_modules() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()  # scans every installed distribution: once


def distribution_of(module: str) -> set[str]:
    names = installed_modules().get(module)
    if not names:
        pytest.fail(f"cgflow imports {module!r}, which no installed distribution provides")
    return {name.lower().replace("_", "-") for name in names}


def third_party_imports(path: Path) -> list[tuple[str, bool]]:
    """(top-level module, imported at module level?) for every import of ``path``."""
    tree = ast.parse(path.read_text())
    module_level = {id(node) for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))}
    for function in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        module_level -= {id(node) for node in ast.walk(function) if isinstance(node, (ast.Import, ast.ImportFrom))}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top != "cgflow":
                found.append((top, id(node) in module_level))
    return found


CORE = requirement_names(PYPROJECT["dependencies"])
EXTRAS = {extra: requirement_names(reqs) for extra, reqs in PYPROJECT["optional-dependencies"].items()}
SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_import_is_a_declared_dependency(path):
    in_datagen = "datagen" in path.relative_to(PACKAGE).parts
    allowed_everywhere = CORE | set().union(*EXTRAS.values())
    for module, module_level in third_party_imports(path):
        providers = distribution_of(module)
        if in_datagen:
            allowed = CORE | EXTRAS["data"]
        elif module_level:
            allowed = CORE
        else:
            allowed = allowed_everywhere  # optional, imported only where used
        assert providers & allowed, f"{path.name} imports {module} ({sorted(providers)}), not declared in {sorted(allowed)}"


def test_numpy_floor_covers_the_numpy_api_used():
    uses_trapezoid = any("np.trapezoid" in path.read_text() for path in SOURCES)
    floor = next(r for r in PYPROJECT["dependencies"] if r.startswith("numpy"))
    if uses_trapezoid:  # np.trapezoid exists from NumPy 2.0
        assert re.search(r">=\s*2", floor), f"np.trapezoid needs numpy>=2.0, pyproject says {floor}"


def test_every_public_function_class_and_method_has_a_docstring():
    # The API appendix (book/A2_api.md) is generated from these docstrings.
    import importlib
    import inspect
    import pkgutil

    import torch

    import cgflow

    missing = []
    for info in pkgutil.walk_packages(cgflow.__path__, "cgflow."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if name.startswith("_") or getattr(value, "__module__", None) != module.__name__:
                continue
            if not (inspect.isfunction(value) or inspect.isclass(value)):
                continue
            if not inspect.getdoc(value):
                missing.append(f"{info.name}.{name}")
            members = vars(value).items() if inspect.isclass(value) else ()
            for member_name, member in members:
                if member_name.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
                    continue
                if member_name in ("forward", "inverse") and issubclass(value, torch.nn.Module):
                    continue   # the module's own docstring says what its map does
                if not member.__doc__:
                    missing.append(f"{info.name}.{name}.{member_name}")
    assert not missing, f"public API without a docstring: {missing}"
