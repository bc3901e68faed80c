"""Reading the document's YAML: mappings and lists that remember their lines, and the
problems found on the way (every one is reported, with its line)."""

from __future__ import annotations

from typing import Any

import yaml

from execution.document.spec import FormatProblem, MasterPlanFormatError


class YamlMapping(dict[str, Any]):
    """A YAML mapping that remembers where it and each of its keys stood."""

    def __init__(self, line: int = 0) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}


class LineLoader(yaml.SafeLoader):
    line_offset = 0


def _construct_mapping(loader: LineLoader, node: yaml.MappingNode) -> YamlMapping:
    mapping = YamlMapping(node.start_mark.line + 1 + loader.line_offset)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1 + loader.line_offset
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is not a name", key_node.start_mark
            )
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = line
    return mapping


class YamlSequence(list[Any]):
    """A YAML list that remembers the line of each of its items."""

    def __init__(self) -> None:
        super().__init__()
        self.item_lines: list[int] = []


def _construct_sequence(loader: LineLoader, node: yaml.SequenceNode) -> YamlSequence:
    sequence = YamlSequence()
    for item_node in node.value:
        sequence.append(loader.construct_object(item_node, deep=True))
        sequence.item_lines.append(item_node.start_mark.line + 1 + loader.line_offset)
    return sequence


LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(text: str, first_line: int, what: str) -> Any:
    """Parse YAML whose first line is line `first_line` of the document."""

    class Loader(LineLoader):
        line_offset = first_line - 1

    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 — a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + first_line if mark else first_line
        message = f"invalid YAML in the {what}: {error.problem or error}"
        if error.context and error.context_mark and error.context_mark is not mark:
            message += f" ({error.context} on line {error.context_mark.line + first_line})"
        raise MasterPlanFormatError([FormatProblem(line, message)]) from None
    except yaml.YAMLError as error:
        raise MasterPlanFormatError(
            [FormatProblem(first_line, f"invalid YAML in the {what}: {error}")]
        ) from None


class Problems:
    def __init__(self) -> None:
        self.items: list[FormatProblem] = []

    def add(self, line: int | None, message: str) -> None:
        self.items.append(FormatProblem(line, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise MasterPlanFormatError(self.items)


def unknown_keys(mapping: YamlMapping, allowed: set[str], where: str, problems: Problems) -> None:
    for key in mapping:
        if key not in allowed:
            problems.add(
                mapping.key_lines[key],
                f"unknown key {key!r} in {where} (allowed: {', '.join(sorted(allowed))})",
            )


def text_field(
    mapping: YamlMapping, key: str, where: str, problems: Problems, *, required: bool
) -> str:
    value = mapping.get(key)
    line = mapping.key_lines.get(key, mapping.line)
    if value is None:
        if required:
            problems.add(mapping.line, f"{where} needs a {key!r}")
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        problems.add(line, f"{key!r} of {where} must be text")
        return ""
    value = str(value).strip()
    if required and not value:
        problems.add(line, f"{key!r} of {where} is empty")
    if key == "name" and ("\n" in value or len(value) > 200):
        problems.add(line, f"the name of {where} must be one line of at most 200 characters")
    return value
