"""Rerun triggers for the package's code: which modules a job runs, hashed by their syntax.

Snakemake's own ``code`` trigger sees only a rule's thin script in ``workflow/scripts/``; the
logic lives here, in the package. A job's code hash covers its script, the modules the method
registry names for the job's method and the methods it is made from, and the package modules
those import, transitively. Two rules keep that set to what the job runs:

- A module is hashed by its syntax tree without docstrings, so comments, docstrings and
  formatting are no change; any other edit (a name, a constant, a statement) is.
- The registry's declarations (``pixelnoise.methods`` and its family modules) are data, not
  code the job runs: importing the registry does not pull in every family's declarations (and
  what they import). A job hashes instead the registry entries it reads (:func:`entries_digest`),
  so editing one method's entry reruns that method's jobs only. The registry's own logic
  (``pixelnoise.methods.registry``) is code like any other module.

Reading and parsing every module once takes milliseconds; nothing here imports the package's
implementations.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

PACKAGE = "pixelnoise"
#: The registry's package: declarations, hashed as entries rather than followed as imports.
DECLARATIONS = f"{PACKAGE}.methods"
#: Modules of the registry's package that are code (followed and hashed like any other).
REGISTRY_CODE = frozenset({f"{DECLARATIONS}.registry"})


def syntax_digest(source: str | bytes, filename: str = "<source>") -> str:
    """A hash of ``source``'s syntax tree with every docstring removed: comments, docstrings,
    blank lines and formatting do not change it; any change to what the code does does.

    >>> syntax_digest("x = 1  # one") == syntax_digest('"Doc."\\nx = (1)\\n')
    True
    >>> syntax_digest("x = 1") == syntax_digest("x = 2")
    False
    """
    tree = ast.parse(source, filename=filename)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and _is_docstring(body[0]):
                node.body = body[1:]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


class CodeIndex:
    """The package's modules under ``root`` (a checkout: ``root/pixelnoise``), each parsed
    once: which package modules a file imports, and each file's syntax digest."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self._imports: dict[Path, frozenset[Path]] = {}
        self._digests: dict[Path, str] = {}

    def module_file(self, name: str) -> Path | None:
        """The source file of module ``name`` of the package, or None (not the package's)."""
        parts = name.split(".")
        if parts[0] != PACKAGE:
            return None
        base = self.root.joinpath(*parts)
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                return path
        return None

    def imports(self, path: Path) -> frozenset[Path]:
        """Package files that ``path`` imports (anywhere in it, lazily too), with the parent
        packages an import runs. The registry's declarations are not followed (see above)."""
        if path not in self._imports:
            self._imports[path] = frozenset(self._parse_imports(path))
        return self._imports[path]

    def _parse_imports(self, path: Path) -> set[Path]:
        inside = path.is_relative_to(self.root / PACKAGE)
        own = path.relative_to(self.root).with_suffix("").parts if inside else ()
        module = ".".join(part for part in own if part != "__init__")
        declaration = module == DECLARATIONS or module.startswith(DECLARATIONS + ".")
        if declaration and module not in REGISTRY_CODE:
            return set()  # the registry's declarations: hashed as entries, not followed
        names = set()
        for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                name = node.module or ""
                if node.level:  # relative: from the package of `path`
                    name = ".".join([*own[: -node.level], *([name] if name else [])])
                names.add(name)
                names.update(f"{name}.{alias.name}" for alias in node.names)  # submodules
        files = set()
        for name in names:
            parts = name.split(".")
            for end in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b too
                found = self.module_file(".".join(parts[:end]))
                if found is not None:
                    files.add(found)
        return files

    def closure(self, files: Iterable[Path]) -> set[Path]:
        """``files`` and every package file they import, transitively."""
        todo, seen = list(files), set()
        while todo:
            path = todo.pop()
            if path not in seen:
                seen.add(path)
                todo.extend(self.imports(path))
        return seen

    def digest(self, path: Path) -> str:
        if path not in self._digests:
            self._digests[path] = syntax_digest(path.read_bytes(), filename=str(path))
        return self._digests[path]

    def files(self, scripts: Iterable[str | Path], modules: Iterable[str] = ()) -> list[Path]:
        """The ``scripts`` (paths, absolute or from the root), the package ``modules`` named
        (e.g. a method's module, which its stage imports by name) and every package file they
        import, sorted."""
        named = {module: self.module_file(module) for module in sorted(set(modules))}
        missing = [module for module, path in named.items() if path is None]
        if missing:
            raise ValueError(f"the method registry names modules that do not exist: {missing}")
        return sorted(self.closure([*(self.root / s for s in scripts), *named.values()]))

    def code_digest(self, scripts: Iterable[str | Path], modules: Iterable[str] = ()) -> str:
        """A hash of :meth:`files`, each by its syntax (:func:`syntax_digest`) and path."""
        digest = hashlib.sha256()
        for path in self.files(scripts, modules):
            digest.update(
                f"{path.relative_to(self.root).as_posix()}\0{self.digest(path)}\0".encode()
            )
        return digest.hexdigest()[:16]


def entries_digest(methods: Iterable[object]) -> str:
    """A hash of registry entries (:class:`pixelnoise.methods.registry.Method`), as the data a
    job reads from the registry: every field, options included, in a canonical order."""
    rows = sorted(
        (
            {
                name: dict(value) if name == "options" else value
                for name, value in vars(method).items()
            }
            for method in methods
        ),
        key=lambda row: (row["produces"], row["name"]),
    )
    text = json.dumps(rows, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
