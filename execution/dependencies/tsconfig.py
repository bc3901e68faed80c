"""The compiler options module resolution depends on, read as TypeScript reads them:
`tsconfig.json` or `jsconfig.json` (comments and trailing commas allowed), `extends`
chains (a path or a package, a list of them, any depth), each option relative to the file
that sets it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_NAMES = ("tsconfig.json", "jsconfig.json")

# Strings first, so a "//" or "/*" inside one is kept; then comments; then a comma
# before a closing bracket.
_JSONC = re.compile(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/|,(\s*[\]}])', re.DOTALL)


class ConfigError(ValueError):
    """A config file that cannot be read; the message names the file and what is wrong."""


@dataclass(frozen=True)
class TsOptions:
    module_resolution: str = "node10"
    """node10, node16, nodenext, bundler or classic (what the compiler derives)."""
    base_url: Path | None = None
    paths: tuple[tuple[str, tuple[str, ...]], ...] = ()
    paths_base: Path | None = None
    """Where `paths` substitutions start: baseUrl, else the file that set `paths`."""
    allow_js: bool = True
    resolve_json_module: bool = False
    config_file: Path | None = None


def find_config(root: Path) -> Path | None:
    return next((root / name for name in CONFIG_NAMES if (root / name).is_file()), None)


def load_options(root: Path, config: Path | None = None) -> TsOptions:
    """The options of `config` (default: the root's tsconfig.json or jsconfig.json; none:
    the compiler's defaults with JavaScript allowed). Raises ConfigError."""
    config = config or find_config(root)
    if config is None:
        return TsOptions()
    merged: dict[str, Any] = {}
    where: dict[str, Path] = {}
    for path, options in _chain(config.resolve(), []):
        for name, value in options.items():
            merged[name] = value
            where[name] = path.parent
    return _options(merged, where, config, jsconfig=config.name == "jsconfig.json")


def _chain(config: Path, seen: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
    """(file, compilerOptions) from the farthest base to `config` itself."""
    if config in seen:
        raise ConfigError(
            f"{config}: `extends` loops: {' → '.join(str(p) for p in [*seen, config])}"
        )
    data = read_jsonc(config)
    extends = data.get("extends", [])
    bases = [extends] if isinstance(extends, str) else extends
    if not isinstance(bases, list) or not all(isinstance(base, str) for base in bases):
        raise ConfigError(f"{config}: `extends` must be a path or a list of paths")
    chain: list[tuple[Path, dict[str, Any]]] = []
    for base in bases:
        chain += _chain(_extended(config, base), [*seen, config])
    options = data.get("compilerOptions", {})
    if not isinstance(options, dict):
        raise ConfigError(f"{config}: `compilerOptions` must be an object")
    chain.append((config, options))
    return chain


def _extended(config: Path, base: str) -> Path:
    """The file an `extends` entry names: relative to the config, or a package's."""
    if base.startswith((".", "/")):
        candidates = [config.parent / base, config.parent / f"{base}.json"]
    else:
        candidates = [
            folder / "node_modules" / name
            for folder in [config.parent, *config.parent.parents]
            for name in (base, f"{base}.json", f"{base}/tsconfig.json")
        ]
    found = next((candidate for candidate in candidates if candidate.is_file()), None)
    if found is None:
        raise ConfigError(f"{config}: `extends` names {base!r}, which is not a file")
    return found.resolve()


def read_jsonc(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot be read ({error})") from None
    try:
        data = json.loads(_JSONC.sub(lambda m: m.group(1) or m.group(2) or "", text))
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: not JSON at line {error.lineno}: {error.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a JSON object")
    return data


def _options(
    merged: dict[str, Any], where: dict[str, Path], config: Path, *, jsconfig: bool
) -> TsOptions:
    lowered = {name.lower(): value for name, value in merged.items()}
    origin = {name.lower(): folder for name, folder in where.items()}
    base_url = (
        (origin["baseurl"] / str(lowered["baseurl"])).resolve() if "baseurl" in lowered else None
    )
    paths = lowered.get("paths") or {}
    if not isinstance(paths, dict):
        raise ConfigError(f"{config}: `paths` must be an object of lists")
    return TsOptions(
        module_resolution=_module_resolution(lowered),
        base_url=base_url,
        paths=tuple(
            (pattern, tuple(str(target) for target in targets))
            for pattern, targets in paths.items()
            if isinstance(targets, list)
        ),
        paths_base=base_url or (origin["paths"].resolve() if "paths" in origin else None),
        allow_js=bool(lowered.get("allowjs", jsconfig)),
        resolve_json_module=bool(lowered.get("resolvejsonmodule", False)),
        config_file=config,
    )


def _module_resolution(options: dict[str, Any]) -> str:
    """As the compiler derives it: `moduleResolution`, else from `module`, else from
    `target` (ES2015 or later: module es2015, which resolves `classic`)."""
    chosen = str(options.get("moduleresolution", "")).lower()
    if chosen:
        return "node10" if chosen == "node" else chosen
    module = str(options.get("module", "")).lower()
    if not module:
        target = str(options.get("target", "es5")).lower()
        module = "commonjs" if target in ("es3", "es5") else "es2015"
    if module == "commonjs":
        return "node10"
    if module in ("node16", "node18", "node20"):
        return "node16"
    if module == "nodenext":
        return "nodenext"
    if module == "preserve":
        return "bundler"
    return "classic"
