"""The folders are the layers (docs/architecture.md): a module imports from its own
layer or the ones below it, never above, and no modules import each other in a circle,
counting the imports inside functions too (they tie modules as much as the others)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "quartblog"

# Lowest first.  The entry point (quartblog/__init__.py) wires everything and is left out.
LAYERS = [
    ("config", "types", "text"),
    ("models",),
    ("db",),
    ("migrations",),
    ("services",),
    ("web",),
    ("site", "api"),
    ("mail",),
    ("jobs",),
    ("cli",),
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """The quartblog modules ``path`` imports, resolved to module names."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("quartblog"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("quartblog"):
                continue
            for alias in node.names:  # `from . import posts` names a module
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in MODULES else target)
    return {module for module in found if module in MODULES}


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")
           if "scripts" not in path.relative_to(PACKAGE).parts}


def layer(module: str) -> int | None:
    parts = module.split(".")
    return RANK.get(parts[1]) if len(parts) > 1 else None


def graph() -> dict[str, set[str]]:
    return {module: imports_of(path) - {module} for module, path in MODULES.items()}


def test_every_folder_and_top_module_has_a_layer():
    assert {module.split(".")[1] for module in MODULES if "." in module} <= set(RANK)


def test_no_module_imports_from_a_higher_layer():
    upward = sorted(f"{module} -> {target}" for module, targets in graph().items()
                    for target in targets
                    if layer(module) is not None and layer(target) is not None and layer(target) > layer(module))
    assert upward == []


def test_no_import_circles():
    edges = graph()
    # Tarjan's strongly connected components: a component of two or more modules is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    # A package's __init__ re-exporting its submodules is no circle of code.
    circles = [c for c in circles if not all(m == c[0] or m.startswith(c[0] + ".") for m in c)]
    assert circles == []


def test_no_module_is_over_about_400_lines():
    long = {module: n for module, path in MODULES.items() if (n := len(path.read_text().splitlines())) > 410}
    assert long == {}
