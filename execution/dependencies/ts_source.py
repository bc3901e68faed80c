"""What a TypeScript or JavaScript file imports and exports, read with tree-sitter (which
file a specifier names is execution.dependencies.ts_resolution's)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from tree_sitter import Node

from execution.llm.validation import first_error, parse_tree

_DECLARATIONS = {
    "function_declaration",
    "generator_function_declaration",
    "class_declaration",
    "abstract_class_declaration",
    "interface_declaration",
    "type_alias_declaration",
    "enum_declaration",
    "module",
    "internal_module",
    "function_signature",
}
NODE_BUILTINS = frozenset(
    [
        "assert",
        "async_hooks",
        "buffer",
        "child_process",
        "cluster",
        "console",
        "constants",
        "crypto",
        "dgram",
        "diagnostics_channel",
        "dns",
        "domain",
        "events",
        "fs",
        "http",
        "http2",
        "https",
        "inspector",
        "module",
        "net",
        "os",
        "path",
        "perf_hooks",
        "process",
        "punycode",
        "querystring",
        "readline",
        "repl",
        "stream",
        "string_decoder",
        "sys",
        "timers",
        "tls",
        "trace_events",
        "tty",
        "url",
        "util",
        "v8",
        "vm",
        "wasi",
        "worker_threads",
        "zlib",
        "test",
    ]
)


@dataclass(frozen=True)
class TsImport:
    specifier: str
    kind: str
    """import, type_import, reexport, dynamic, require, side_effect."""
    line: int
    text: str
    names: tuple[str, ...] = ()
    """The names taken from the module ("default" for a default import)."""
    type_only: bool = False
    call: bool = False
    """`require(…)` or `import(…)`: a call, not a statement."""


@dataclass
class TsModule:
    path: str
    imports: list[TsImport] = field(default_factory=list)
    exports: set[str] = field(default_factory=set)
    star_from: list[str] = field(default_factory=list)
    """Specifiers of `export * from`: their names are exported too."""
    reexported: dict[str, tuple[str, str]] = field(default_factory=dict)
    """`export { a as b } from "./x"`: b → ("./x", "a")."""
    commonjs: bool = False
    """`module.exports` / `exports.x` / `export =`: its names cannot be listed statically."""
    dynamic_specifiers: list[int] = field(default_factory=list)
    """Lines of `import(…)` / `require(…)` whose specifier is not a literal."""
    syntax_error: int | None = None
    """The line of the first syntax error (the rest of the file is still read)."""


def analyse(path: str, language: str, code: str) -> TsModule:
    tree = parse_tree(language, path, code)
    module = TsModule(path)
    if tree.root_node.has_error:
        error = first_error(tree.root_node)
        if not _export_type_star(error) or _later_error(tree.root_node, error):
            module.syntax_error = error.start_point[0] + 1
    for node in tree.root_node.children:
        if node.type == "import_statement":
            _import(node, module)
        elif node.type == "export_statement":
            _export(node, module)
    javascript = language == "javascript"
    for node in _walk(tree.root_node):
        if node.type == "call_expression":
            _call(node, module)
        elif javascript and node.type == "comment":
            _jsdoc_imports(node, module)
        elif (
            node.type == "member_expression"
            and _text(node) in ("module.exports",)
            or node.type == "member_expression"
            and _text(node.child_by_field_name("object")) == ("exports")
        ):
            module.commonjs = True
    return module


def _export_type_star(error: Node) -> bool:
    """`export type * from` (TypeScript 5.0): the grammar predates it and marks `type` as
    an error; the statement is read all the same."""
    parent = error.parent
    return _text(error) == "type" and parent is not None and parent.type == "export_statement"


def _later_error(root: Node, tolerated: Node) -> bool:
    return any(
        (node.type == "ERROR" or node.is_missing)
        and node.id != tolerated.id
        and not _export_type_star(node)
        for node in _walk(root)
    )


# A JSDoc type's `import("…")` and an `@import … from "…"` tag: in JavaScript the compiler
# reads types from comments, and resolves these as imports.
_JSDOC_IMPORT = re.compile(
    r"""\bimport\(\s*(["'])([^"'\n]+)\1\s*\)|@import\b[^\n]*?\bfrom\s+(["'])([^"'\n]+)\3"""
)


def _jsdoc_imports(node: Node, module: TsModule) -> None:
    text = _text(node)
    if not text.startswith("/**"):
        return
    for match in _JSDOC_IMPORT.finditer(text):
        line = _line(node) + text.count("\n", 0, match.start())
        module.imports.append(
            TsImport(match[2] or match[4], "type_import", line, match[0][:200], type_only=True)
        )


def _walk(root: Node) -> Iterator[Node]:
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def _text(node: Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text else ""


def _string(node: Node | None) -> str | None:
    """The value of a string literal or a template without substitutions, else None."""
    if node is None:
        return None
    if node.type == "string":
        return "".join(_text(child) for child in node.children if child.type == "string_fragment")
    if node.type == "template_string" and not any(
        child.type == "template_substitution" for child in node.children
    ):
        return _text(node)[1:-1]
    return None


def _line(node: Node) -> int:
    return node.start_point[0] + 1


def _first_line(node: Node) -> str:
    return _text(node).splitlines()[0][:200] if node.text else ""


def _import(node: Node, module: TsModule) -> None:
    source = node.child_by_field_name("source")
    type_only = any(child.type == "type" for child in node.children)
    require = next(
        (child for child in node.children if child.type == "import_require_clause"), None
    )
    if require is not None:
        specifier = _string(require.child_by_field_name("source"))
        if specifier is not None:
            module.imports.append(TsImport(specifier, "require", _line(node), _first_line(node)))
        return
    specifier = _string(source)
    if specifier is None:
        return
    clause = next((child for child in node.children if child.type == "import_clause"), None)
    if clause is None:
        module.imports.append(TsImport(specifier, "side_effect", _line(node), _first_line(node)))
        return
    names: list[str] = []
    for part in clause.children:
        if part.type == "identifier":
            names.append("default")
        elif part.type == "named_imports":
            for spec in part.children:
                if spec.type == "import_specifier":
                    names.append(_text(spec.child_by_field_name("name")))
    kind = "type_import" if type_only else "import"
    module.imports.append(
        TsImport(specifier, kind, _line(node), _first_line(node), tuple(names), type_only)
    )


def _export(node: Node, module: TsModule) -> None:
    source = _string(node.child_by_field_name("source"))
    children = node.children
    if any(child.type == "default" for child in children):
        module.exports.add("default")
        return
    if any(child.type == "=" for child in children):
        module.commonjs = True  # export = value
        return
    declaration = node.child_by_field_name("declaration")
    if declaration is not None:
        module.exports |= set(_declared(declaration))
        return
    clause = next((child for child in children if child.type == "export_clause"), None)
    namespace = next((child for child in children if child.type == "namespace_export"), None)
    taken: list[str] = []
    if clause is not None:
        for spec in clause.children:
            if spec.type == "export_specifier":
                name = _text(spec.child_by_field_name("name"))
                alias = spec.child_by_field_name("alias")
                exported = _text(alias) if alias is not None else name
                module.exports.add(exported)
                taken.append(name)
                if source is not None:
                    module.reexported[exported] = (source, name)
    elif namespace is not None:
        module.exports |= {
            _text(child) for child in namespace.children if child.type in ("identifier", "string")
        }
    elif source is not None:
        module.star_from.append(source)
    if source is not None:
        type_only = any(child.type == "type" for child in children)
        module.imports.append(
            TsImport(source, "reexport", _line(node), _first_line(node), tuple(taken), type_only)
        )


def _declared(declaration: Node) -> list[str]:
    if declaration.type in _DECLARATIONS:
        name = declaration.child_by_field_name("name")
        return [_text(name)] if name is not None else []
    if declaration.type in ("lexical_declaration", "variable_declaration"):
        names = []
        for declarator in declaration.children:
            if declarator.type == "variable_declarator":
                pattern = declarator.child_by_field_name("name")
                if pattern is not None:
                    names += [
                        _text(leaf)
                        for leaf in _walk(pattern)
                        if leaf.type in ("identifier", "shorthand_property_identifier_pattern")
                    ]
        return names
    if declaration.type == "ambient_declaration":
        return [name for child in declaration.children for name in _declared(child)]
    return []


def _call(node: Node, module: TsModule) -> None:
    function = node.child_by_field_name("function")
    if function is None or function.type not in ("import", "identifier"):
        return
    if function.type == "identifier" and _text(function) != "require":
        return
    arguments = node.child_by_field_name("arguments")
    first = (
        next((child for child in arguments.children if child.is_named), None) if arguments else None
    )
    specifier = _string(first)
    if specifier is None:
        module.dynamic_specifiers.append(_line(node))
        return
    kind = "dynamic" if function.type == "import" else "require"
    module.imports.append(TsImport(specifier, kind, _line(node), _first_line(node), call=True))


def package_name(specifier: str) -> str:
    """`@scope/pkg/sub` → `@scope/pkg`, `lodash/fp` → `lodash`."""
    parts = specifier.split("/")
    return "/".join(parts[:2]) if specifier.startswith("@") else parts[0]
