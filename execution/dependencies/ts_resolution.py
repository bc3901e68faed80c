"""Which file a TS/JS module specifier names, resolved the way the TypeScript compiler
resolves it for the configured `moduleResolution` (node10, node16, nodenext, bundler,
classic): `paths` (with `*` patterns, with or without `baseUrl`), `baseUrl`, relative
paths with the compiler's extension replacement and probing, directories (package.json
`types`/`main`, then `index`), and node16/nodenext's ECMAScript-module rule that a
relative import names its file exactly. Packages (node_modules) are outside the project:
they resolve to EXTERNAL, never to an edge.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path

from execution.dependencies.tsconfig import TsOptions

EXTERNAL = "<external>"

_TS = (".ts", ".tsx", ".d.ts")
_JS = (".js", ".jsx")
# An extension the specifier already has, and what the compiler tries in its place.
_REPLACEMENTS = {
    ".js": (*_TS, *_JS), ".jsx": (".tsx", ".ts", ".d.ts", ".jsx", ".js"),
    ".ts": (*_TS, *_JS), ".tsx": (".tsx", ".ts", ".d.ts", ".jsx", ".js"), ".d.ts": (*_TS, *_JS),
    ".mjs": (".mts", ".d.mts", ".mjs"), ".mts": (".mts", ".d.mts", ".mjs"),
    ".cjs": (".cts", ".d.cts", ".cjs"), ".cts": (".cts", ".d.cts", ".cjs"),
}  # fmt: skip
# ".d.ts" before ".ts": a candidate's own extension is the longest one it ends with.
_LONGEST_FIRST = (".d.ts", *sorted(set(_REPLACEMENTS) - {".d.ts"}, key=len, reverse=True))
_JS_EXTENSIONS = frozenset({".js", ".jsx", ".mjs", ".cjs"})


def is_relative(specifier: str) -> bool:
    return specifier.startswith(("./", "../", "/")) or specifier in (".", "..")


class TsResolver:
    def __init__(self, root: Path, files: set[str], options: TsOptions) -> None:
        self.root = root.resolve()
        self.files = files
        """Every file of the tree, relative and POSIX, whatever its extension."""
        self.options = options
        self._manifests: dict[str, dict[str, object]] = {}
        self._directories = {posixpath.dirname(path) for path in files}
        for folder in list(self._directories):
            while folder:
                folder = posixpath.dirname(folder)
                self._directories.add(folder)

    def resolve(self, importer: str, specifier: str, kind: str) -> str | None:
        """The project file (relative path), EXTERNAL for a package, None when the
        compiler would not resolve it."""
        esm = self._esm_mode(importer, kind)
        if self.options.module_resolution == "classic":
            return self._classic(importer, specifier)
        for candidate in self._path_candidates(specifier):
            found = self._load(candidate, esm)
            if found:
                return found
        if is_relative(specifier):
            base = self._relative_to_root(posixpath.join(posixpath.dirname(importer), specifier))
            return self._load(base, esm) if base is not None else None
        if self.options.base_url is not None:
            base = self._under_root(self.options.base_url / specifier)
            found = self._load(base, esm) if base is not None else None
            if found:
                return found
        return EXTERNAL

    # --- where to look ---------------------------------------------------------------------

    def _path_candidates(self, specifier: str) -> list[str]:
        """The `paths` substitutions for a non-relative specifier: an exact pattern, else the
        `*` pattern with the longest prefix (as the compiler matches them)."""
        if is_relative(specifier) or not self.options.paths or self.options.paths_base is None:
            return []
        exact = dict(self.options.paths).get(specifier)
        if exact is not None and "*" not in specifier:
            matched, substitutions = "", exact
        else:
            best: tuple[int, str, tuple[str, ...]] | None = None
            for pattern, targets in self.options.paths:
                if pattern.count("*") != 1:
                    continue
                prefix, suffix = pattern.split("*")
                if (
                    specifier.startswith(prefix)
                    and specifier.endswith(suffix)
                    and len(specifier) >= len(prefix) + len(suffix)
                    and (best is None or len(prefix) > best[0])
                ):
                    matched = specifier[len(prefix) : len(specifier) - len(suffix)]
                    best = (len(prefix), matched, targets)
            if best is None:
                return []
            _, matched, substitutions = best
        candidates = []
        for target in substitutions:
            path = self._under_root(self.options.paths_base / target.replace("*", matched, 1))
            if path is not None:
                candidates.append(path)
        return candidates

    def _under_root(self, path: Path) -> str | None:
        try:
            relative = Path(posixpath.normpath(path.as_posix())).relative_to(self.root)
        except ValueError:
            return None
        return self._relative_to_root(relative.as_posix())

    @staticmethod
    def _relative_to_root(path: str) -> str | None:
        normal = posixpath.normpath(path)
        if normal == ".":
            return ""
        return None if normal.startswith("../") or normal == ".." else normal

    # --- loading a candidate ------------------------------------------------------------------

    def _load(self, candidate: str, esm: bool) -> str | None:
        """A file at `candidate` as the compiler finds one: by replacing an extension the
        candidate has, then (not for an ES module) by adding one, then as a directory."""
        found = self._replacing_extension(candidate)
        if found or esm:
            return found
        found = self._adding_extension(candidate, "")
        return found or self._directory(candidate)

    def _replacing_extension(self, candidate: str) -> str | None:
        name = posixpath.basename(candidate)
        for extension in _LONGEST_FIRST:
            if name.endswith(extension) and len(name) > len(extension):
                return self._adding_extension(candidate[: -len(extension)], extension)
        if name.endswith(".json") and self.options.resolve_json_module:
            return candidate if candidate in self.files else None
        return None

    def _adding_extension(self, stem: str, original: str) -> str | None:
        for extension in _REPLACEMENTS.get(original, (*_TS, *_JS)):
            if extension in _JS_EXTENSIONS and not self.options.allow_js:
                continue
            if stem + extension in self.files:
                return stem + extension
        return None

    def _directory(self, candidate: str) -> str | None:
        if candidate not in self._directories:
            return None
        manifest = self._package_json(posixpath.join(candidate, "package.json"))
        for field in ("types", "typings", "main"):
            entry = manifest.get(field)
            if isinstance(entry, str):
                target = self._relative_to_root(posixpath.join(candidate, entry))
                if target is not None:
                    found = (
                        (target if target in self.files else None)
                        or self._replacing_extension(target)
                        or self._adding_extension(target, "")
                        or self._index(target)
                    )
                    if found:
                        return found
        return self._index(candidate)

    def _index(self, folder: str) -> str | None:
        return self._adding_extension(posixpath.join(folder, "index") if folder else "index", "")

    def _package_json(self, path: str) -> dict[str, object]:
        if path not in self.files:
            return {}
        if path not in self._manifests:
            self._manifests[path] = _read_manifest(self.root / path)
        return self._manifests[path]

    def _classic(self, importer: str, specifier: str) -> str | None:
        """`classic`: a relative name with extensions added (no directories); a bare one
        looked for in the importer's folder and each folder above it."""
        if is_relative(specifier):
            base = self._relative_to_root(posixpath.join(posixpath.dirname(importer), specifier))
            if base is None:
                return None
            return self._replacing_extension(base) or self._adding_extension(base, "")
        folder = posixpath.dirname(importer)
        while True:
            base = posixpath.join(folder, specifier) if folder else specifier
            found = self._replacing_extension(base) or self._adding_extension(base, "")
            if found:
                return found
            if not folder:
                return EXTERNAL
            folder = posixpath.dirname(folder)

    # --- the importer's module format ---------------------------------------------------------

    def _esm_mode(self, importer: str, kind: str) -> bool:
        """node16/nodenext: does this usage resolve as an ECMAScript module (no extension
        added, no directory)? `require` never, `import()` always, others as the file is."""
        if self.options.module_resolution not in ("node16", "nodenext"):
            return False
        if kind == "require":
            return False
        if kind == "dynamic":
            return True
        if importer.endswith((".mts", ".mjs", ".d.mts")):
            return True
        if importer.endswith((".cts", ".cjs", ".d.cts")):
            return False
        folder = posixpath.dirname(importer)
        while True:
            manifest = posixpath.join(folder, "package.json") if folder else "package.json"
            if manifest in self.files:
                return self._package_json(manifest).get("type") == "module"
            if not folder:
                return False
            folder = posixpath.dirname(folder)


def _read_manifest(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
