"""What a Python file imports, defines and calls, read from its syntax tree (never run)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from execution.llm.validation import parse_python

_DYNAMIC_IMPORTERS = frozenset({"importlib.import_module", "import_module", "__import__"})
_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


@dataclass(frozen=True)
class Signature:
    positional: tuple[str, ...]
    positional_only: int
    """How many of `positional` come before a `/`."""
    required_positional: int
    varargs: bool
    keyword_only: tuple[tuple[str, bool], ...]
    """(name, has a default)."""
    varkw: bool

    def problem(self, positional: int, keywords: list[str]) -> str | None:
        """Why a call with this many positional arguments and these keywords fails, or None."""
        if positional > len(self.positional) and not self.varargs:
            return (
                f"takes {len(self.positional)} positional argument"
                f"{'s' * (len(self.positional) != 1)} but {positional} were given"
            )
        given = set(self.positional[:positional])
        keyword_only = dict(self.keyword_only)
        for keyword in keywords:
            if keyword in self.positional[: self.positional_only]:
                return f"{keyword!r} is positional-only but was passed by keyword"
            if keyword in given:
                return f"got multiple values for argument {keyword!r}"
            if keyword not in self.positional and keyword not in keyword_only and not self.varkw:
                return f"got an unexpected keyword argument {keyword!r}"
        missing = [
            name
            for index, name in enumerate(self.positional[: self.required_positional])
            if index >= positional and name not in keywords
        ]
        missing += [
            name for name, default in self.keyword_only if not default and name not in keywords
        ]
        if missing:
            return (
                "missing required argument"
                + "s" * (len(missing) != 1)
                + ": "
                + ", ".join(repr(name) for name in missing)
            )
        return None


@dataclass(frozen=True)
class Import:
    module: str
    """Absolute dotted name ("" when a relative import climbs above the top package)."""
    names: tuple[tuple[str, str], ...]
    """`from` imports: (name, bound as); empty for `import module`."""
    line: int
    text: str
    type_only: bool
    conditional: bool
    """Inside a try whose handler catches ImportError, or an `if`: a fallback may exist."""
    deferred: bool
    """Inside a function: it runs when called, not when the module is imported."""
    star: bool = False
    bound_as: str = ""
    """`import a.b as m`: m; `import a.b`: a."""


@dataclass(frozen=True)
class Call:
    name: str
    """The local name called (`f(...)`), or `alias.attribute` for `alias.f(...)`."""
    line: int
    positional: int
    keywords: tuple[str, ...]
    unpacked: bool
    """`*args` or `**kwargs` in the call: its arity cannot be read."""


@dataclass
class PythonModule:
    path: str
    name: str
    is_package: bool
    imports: list[Import] = field(default_factory=list)
    defined: set[str] = field(default_factory=set)
    dynamic: bool = False
    """A module-level `__getattr__`: any name may exist."""
    signatures: dict[str, Signature] = field(default_factory=dict)
    """Top-level functions and classes defined once and without decorators."""
    calls: list[Call] = field(default_factory=list)
    dynamic_imports: list[tuple[str | None, int]] = field(default_factory=list)
    """`importlib.import_module(…)` / `__import__(…)`: (the module, None when it is not a
    literal), line."""
    rebound: set[str] = field(default_factory=set)
    """Names assigned anywhere in the file other than by an import (a call to one of them
    may not be to what was imported)."""


def module_name(path: str) -> tuple[str, bool]:
    """("pkg.mod", False) for pkg/mod.py, ("pkg", True) for pkg/__init__.py."""
    parts = PurePosixPath(path).with_suffix("").parts
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def analyse(path: str, code: str) -> PythonModule:
    """Raises SyntaxError when the code does not parse."""
    tree = parse_python(code, path)
    name, is_package = module_name(path)
    module = PythonModule(path, name, is_package)
    _Reader(module).statements(
        tree.body, type_only=False, conditional=False, deferred=False, top=True
    )
    counts: dict[str, int] = {}
    for node in tree.body:
        for bound in _bound_names(node):
            counts[bound] = counts.get(bound, 0) + 1
    module.signatures = {
        name: signature for name, signature in module.signatures.items() if counts.get(name) == 1
    }
    _read_calls(tree, module)
    return module


class _Reader:
    def __init__(self, module: PythonModule) -> None:
        self.module = module

    def statements(
        self, body: list[ast.stmt], *, type_only: bool, conditional: bool, deferred: bool, top: bool
    ) -> None:
        for node in body:
            self.statement(
                node, type_only=type_only, conditional=conditional, deferred=deferred, top=top
            )

    def statement(
        self, node: ast.stmt, *, type_only: bool, conditional: bool, deferred: bool, top: bool
    ) -> None:
        flags = {"type_only": type_only, "conditional": conditional, "deferred": deferred}
        if isinstance(node, ast.Import | ast.ImportFrom):
            self._import(node, top=top, **flags)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if top:
                self.module.defined.add(node.name)
                if node.name == "__getattr__":
                    self.module.dynamic = True
                if not node.decorator_list:
                    self.module.signatures[node.name] = _signature(node.args, drop_first=False)
            self.statements(
                node.body, type_only=type_only, conditional=conditional, deferred=True, top=False
            )
        elif isinstance(node, ast.ClassDef):
            if top:
                self.module.defined.add(node.name)
                signature = _class_signature(node)
                if signature is not None:
                    self.module.signatures[node.name] = signature
            self.statements(node.body, top=False, **flags)
        elif isinstance(node, ast.If):
            if _is_type_checking(node.test):
                self.statements(
                    node.body, type_only=True, conditional=conditional, deferred=deferred, top=top
                )
                self.statements(
                    node.orelse, top=top, type_only=type_only, conditional=True, deferred=deferred
                )
            else:
                for branch in (node.body, node.orelse):
                    self.statements(
                        branch, type_only=type_only, conditional=True, deferred=deferred, top=top
                    )
        elif isinstance(node, ast.Try | ast.TryStar):
            guarded = any(_catches_import_error(handler) for handler in node.handlers)
            self.statements(
                node.body,
                type_only=type_only,
                conditional=conditional or guarded,
                deferred=deferred,
                top=top,
            )
            for handler in node.handlers:
                self.statements(
                    handler.body, top=top, type_only=type_only, conditional=True, deferred=deferred
                )
            for branch in (node.orelse, node.finalbody):
                self.statements(branch, top=top, **flags)
        elif isinstance(node, ast.For | ast.AsyncFor | ast.While | ast.With | ast.AsyncWith):
            if top:
                self._define_targets(node)
            for branch in (node.body, getattr(node, "orelse", [])):
                self.statements(branch, top=top, **flags)
        elif isinstance(node, ast.Match):
            for case in node.cases:
                self.statements(
                    case.body, top=top, type_only=type_only, conditional=True, deferred=deferred
                )
        elif top:
            self._define_targets(node)

    def _define_targets(self, node: ast.stmt) -> None:
        self.module.defined |= set(_bound_names(node))

    def _import(
        self,
        node: ast.Import | ast.ImportFrom,
        *,
        top: bool,
        type_only: bool,
        conditional: bool,
        deferred: bool,
    ) -> None:
        text = ast.unparse(node)
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                if top:
                    self.module.defined.add(bound)
                self.module.imports.append(
                    Import(
                        alias.name,
                        (),
                        node.lineno,
                        text,
                        type_only=type_only,
                        conditional=conditional,
                        deferred=deferred,
                        bound_as=bound,
                    )
                )
            return
        target = self._absolute(node)
        star = any(alias.name == "*" for alias in node.names)
        names = tuple(
            (alias.name, alias.asname or alias.name) for alias in node.names if alias.name != "*"
        )
        if top:
            self.module.defined |= {bound for _, bound in names}
        self.module.imports.append(
            Import(
                target,
                names,
                node.lineno,
                text,
                type_only=type_only,
                conditional=conditional,
                deferred=deferred,
                star=star,
            )
        )

    def _absolute(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        package = self.module.name.split(".") if self.module.name else []
        if not self.module.is_package:
            package = package[:-1]
        if node.level - 1 >= len(package):
            return ""  # beyond the top-level package: Python refuses it
        base = package[: len(package) - (node.level - 1)]
        return ".".join([*base, *([node.module] if node.module else [])])


def _bound_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Import | ast.ImportFrom):
        return []
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.For | ast.AsyncFor):
        targets = [node.target]
    elif isinstance(node, ast.With | ast.AsyncWith):
        targets = [item.optional_vars for item in node.items if item.optional_vars]
    else:  # `(name := value)` binds at the top level too
        targets = [leaf.target for leaf in ast.walk(node) if isinstance(leaf, ast.NamedExpr)]
    names = []
    for target in targets:
        names += [leaf.id for leaf in ast.walk(target) if isinstance(leaf, ast.Name)]
    return names


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(
        (isinstance(kind, ast.Name) and kind.id in _IMPORT_ERRORS)
        or (isinstance(kind, ast.Attribute) and kind.attr in _IMPORT_ERRORS)
        for kind in kinds
    )


def _signature(arguments: ast.arguments, *, drop_first: bool) -> Signature:
    positional = [arg.arg for arg in [*arguments.posonlyargs, *arguments.args]]
    positional_only = len(arguments.posonlyargs)
    defaults = len(arguments.defaults)
    if drop_first and positional:
        positional, positional_only = positional[1:], max(positional_only - 1, 0)
    return Signature(
        positional=tuple(positional),
        positional_only=positional_only,
        required_positional=len(positional) - defaults,
        varargs=arguments.vararg is not None,
        keyword_only=tuple(
            (arg.arg, default is not None)
            for arg, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
        ),
        varkw=arguments.kwarg is not None,
    )


def _class_signature(node: ast.ClassDef) -> Signature | None:
    """What calling the class takes: its own `__init__` (without self). Unknown for a
    decorated class (a dataclass writes its own), one with bases or a metaclass (they may
    define `__init__` or `__new__`), or one that defines `__new__`."""
    if node.decorator_list or node.bases or node.keywords:
        return None
    methods = {item.name: item for item in node.body if isinstance(item, ast.FunctionDef)}
    if "__new__" in methods:
        return None
    init = methods.get("__init__")
    if init is None:
        return Signature((), 0, 0, False, (), False)
    if init.decorator_list:
        return None
    return _signature(init.args, drop_first=True)


def _read_calls(tree: ast.Module, module: PythonModule) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            module.rebound.add(node.id)
        elif isinstance(node, ast.arg):
            module.rebound.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            module.rebound.add(node.name)
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                name = node.func.id
            elif isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                name = f"{node.func.value.id}.{node.func.attr}"
            else:
                continue
            if name in _DYNAMIC_IMPORTERS:
                first = node.args[0] if node.args else None
                literal = (
                    first.value
                    if isinstance(first, ast.Constant) and isinstance(first.value, str)
                    else None
                )
                module.dynamic_imports.append((literal, node.lineno))
            unpacked = any(isinstance(arg, ast.Starred) for arg in node.args) or any(
                keyword.arg is None for keyword in node.keywords
            )
            module.calls.append(
                Call(
                    name,
                    node.lineno,
                    len(node.args),
                    tuple(keyword.arg for keyword in node.keywords if keyword.arg),
                    unpacked,
                )
            )
