"""Rules on the source itself that issue 12 asks for: the module import graph has no cycles, every
``type: ignore`` outside the tests gives a reason, and no merge leaves conflict markers behind."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("web", "realtime", "resolvers", "schema", "tasks", "services", "models", "providers", "storage")


def _tracked(*patterns: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.split()


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for name in _tracked("*.py"):
        if name.split("/")[0] not in PACKAGES:
            continue
        module = name[:-3].replace("/", ".").removesuffix(".__init__")
        found[module] = ROOT / name
    return found


def _imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``module`` imports, at module level or in a function (not under
    TYPE_CHECKING, which runs nothing)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()

    def resolve(name: str) -> str | None:
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            if ".".join(parts[:i]) in known:
                return ".".join(parts[:i])
        return None

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit(other)
                continue
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join([*anchor, *([child.module] if child.module else [])])
                names = [f"{base}.{alias.name}" for alias in child.names]
            for name in names:
                target = resolve(name)
                if target is not None and target != module:
                    targets.add(target)
            visit(child)

    visit(ast.parse(path.read_text()))
    return targets


def test_the_import_graph_of_the_services_modules_has_no_cycle() -> None:
    known = _modules()
    graph = {module: _imports(module, path, known) for module, path in known.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                walk(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module)
    assert not cycles, "\n".join(" -> ".join(cycle) for cycle in cycles)


IGNORE = re.compile(r"#\s*type:\s*ignore(\[[^\]]*\])?(.*)$")


def test_every_type_ignore_outside_the_tests_names_a_code_and_a_reason() -> None:
    bare = []
    for name in _tracked("*.py"):
        if name.startswith(("tests/", "bench/")):
            continue
        for number, line in enumerate((ROOT / name).read_text().splitlines(), 1):
            match = IGNORE.search(line)
            if match is None:
                continue
            code, rest = match.groups()
            if not code or not rest.strip().lstrip("#").strip():
                bare.append(f"{name}:{number}: {line.strip()}")
    assert not bare, "\n".join(bare)


def test_no_tracked_file_holds_merge_conflict_markers() -> None:
    markers = re.compile(r"^(<{7} |>{7} |={7}$)", re.MULTILINE)
    found = []
    for name in _tracked():
        file = ROOT / name
        if file.suffix not in (".py", ".md", ".toml", ".graphql", ".txt", ".lock", "") or not file.is_file():
            continue
        text = file.read_text(errors="replace")
        for match in markers.finditer(text):
            found.append(f"{name}:{text.count(chr(10), 0, match.start()) + 1}: {match.group(0)}")
    assert not found, "\n".join(found)
