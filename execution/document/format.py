"""The masterplan document: YAML front matter + markdown with a `## Plan` YAML block.

`parse_masterplan(text)` turns a document into plain dataclasses (`spec`) or raises
MasterPlanFormatError listing every problem found with its line: the front matter and
the requirements here, the `## Plan` block in `plan`, both read with line numbers
(`reading`). `render` writes a document back, so an imported plan can be exported and
re-imported unchanged; `tree` builds its rows. The format is described for people in
docs/masterplan-format.md.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings

from execution.document.plan import check_atoms, parse_plan_block
from execution.document.reading import (
    Problems,
    YamlMapping,
    YamlSequence,
    load_yaml,
    text_field,
    unknown_keys,
)
from execution.document.spec import (
    BUDGET_KEYS,
    COMPLEXITIES,
    FENCE,
    FRONT_MATTER_KEYS,
    LANGUAGE_BY_EXTENSION,
    LANGUAGES,
    OPTION_KEYS,
    PLAN_HEADING,
    REQUIREMENT_LISTS,
    AtomSpec,
    FormatProblem,
    MasterPlanDocument,
    MasterPlanFormatError,
    MilestoneSpec,
    PhaseSpec,
    RequirementSpec,
    TaskSpec,
)

__all__ = [
    "COMPLEXITIES", "FENCE", "LANGUAGE_BY_EXTENSION", "LANGUAGES", "PLAN_HEADING", "AtomSpec",
    "FormatProblem", "MasterPlanDocument", "MasterPlanFormatError", "MilestoneSpec",
    "PhaseSpec", "RequirementSpec", "TaskSpec", "parse_masterplan",
]  # fmt: skip


def parse_masterplan(text: str) -> MasterPlanDocument:
    size = len(text.encode("utf-8"))
    if size > settings.MGE_MASTERPLAN_MAX_BYTES:
        raise MasterPlanFormatError(
            [
                FormatProblem(
                    None,
                    f"the document is {size:,} bytes; the limit is "
                    f"{settings.MGE_MASTERPLAN_MAX_BYTES:,} bytes (1 MiB)",
                )
            ]
        )
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    lines = text.split("\n")
    front_matter, body_start = _front_matter_lines(lines)
    meta = load_yaml("\n".join(front_matter), 2, "front matter")
    if not isinstance(meta, YamlMapping):
        raise MasterPlanFormatError([FormatProblem(2, "the front matter must be a YAML mapping")])
    problems = Problems()
    header = _parse_front_matter(meta, problems)
    body = "\n".join(lines[body_start:])
    phases = parse_plan_block(lines, body_start, header["language"], problems)
    document = MasterPlanDocument(
        body=body, body_first_line=body_start + 1, phases=phases, **header
    )
    check_atoms(document, problems)
    problems.raise_if_any()
    return document


def _front_matter_lines(lines: list[str]) -> tuple[list[str], int]:
    if not lines or lines[0].strip() != "---":
        raise MasterPlanFormatError(
            [FormatProblem(1, "the document must start with YAML front matter between '---' lines")]
        )
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return lines[1:index], index + 1
    raise MasterPlanFormatError(
        [FormatProblem(1, "the front matter is not closed: add a '---' line after it")]
    )


def _money(mapping: YamlMapping, key: str, problems: Problems) -> Decimal | None:
    if key not in mapping:
        return None
    value, line = mapping[key], mapping.key_lines[key]
    try:
        if isinstance(value, bool):
            raise InvalidOperation
        amount = Decimal(str(value))
    except InvalidOperation:
        problems.add(line, f"budget {key} must be a number of US dollars, not {value!r}")
        return None
    if not amount.is_finite() or amount < 0:
        problems.add(line, f"budget {key} must be zero or more")
        return None
    if amount >= Decimal("1e8") or amount != amount.quantize(Decimal("0.000001")):
        problems.add(line, f"budget {key} must be below 100,000,000 with at most 6 decimals")
        return None
    return amount


def _parse_front_matter(meta: YamlMapping, problems: Problems) -> dict[str, Any]:
    unknown_keys(meta, FRONT_MATTER_KEYS, "the front matter", problems)
    language = meta.get("language")
    if language is not None and language not in LANGUAGES:
        problems.add(
            meta.key_lines["language"],
            f"unsupported language {language!r} (supported: {', '.join(LANGUAGES)})",
        )
        language = None
    budget = meta.get("budget") or YamlMapping()
    hard_cap = soft_cap = None
    if not isinstance(budget, YamlMapping):
        problems.add(meta.key_lines["budget"], "'budget' must be a mapping of caps")
    else:
        unknown_keys(budget, BUDGET_KEYS, "'budget'", problems)
        hard_cap = _money(budget, "hard_cap_usd", problems)
        soft_cap = _money(budget, "soft_cap_usd", problems)
    hard_cap = settings.MGE_BUDGET_HARD_CAP_USD if hard_cap is None else hard_cap
    if soft_cap is None:
        soft_cap = (hard_cap * settings.MGE_BUDGET_SOFT_CAP_RATIO).quantize(Decimal("0.000001"))
    elif soft_cap > hard_cap:
        problems.add(
            budget.key_lines.get("soft_cap_usd"),
            f"budget soft_cap_usd ({soft_cap}) must not exceed hard_cap_usd ({hard_cap})",
        )
    return {
        "name": text_field(meta, "name", "the front matter", problems, required=True),
        "description": text_field(
            meta, "description", "the front matter", problems, required=False
        ),
        "model": text_field(meta, "model", "the front matter", problems, required=False),
        "language": language,
        "hard_cap_usd": hard_cap,
        "soft_cap_usd": soft_cap,
        "options": _parse_options(meta, problems),
        "front_matter_requirements": _parse_requirements(meta, problems),
    }


def _parse_options(meta: YamlMapping, problems: Problems) -> dict[str, Any]:
    options = meta.get("options")
    if options is None:
        return {}
    if not isinstance(options, YamlMapping):
        problems.add(meta.key_lines["options"], "'options' must be a mapping")
        return {}
    unknown_keys(options, set(OPTION_KEYS), "'options'", problems)
    parsed = {}
    for key, kind in OPTION_KEYS.items():
        if key not in options:
            continue
        value = options[key]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            problems.add(options.key_lines[key], f"option {key} must be a whole number")
        elif kind is bool and not isinstance(value, bool):
            problems.add(options.key_lines[key], f"option {key} must be true or false")
        elif kind is float and (
            isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1
        ):
            problems.add(
                options.key_lines[key],
                f"option {key} must be a number between 0 and 1 (0.95 means 95 %)",
            )
        elif key == "max_attempts" and not 1 <= value <= 10:
            problems.add(options.key_lines[key], "option max_attempts must be between 1 and 10")
        else:
            parsed[key] = value
    return parsed


def _parse_requirements(meta: YamlMapping, problems: Problems) -> list[RequirementSpec] | None:
    """`requirements:` as a plain list (each classified by its keywords) or as a mapping of
    `must` and `should` lists (the key decides, like a `### MUST` heading)."""
    if "requirements" not in meta:
        return None
    value, line = meta["requirements"], meta.key_lines["requirements"]
    if isinstance(value, YamlSequence):
        return _requirement_list(value, None, "'requirements'", problems)
    if not isinstance(value, YamlMapping):
        problems.add(
            line,
            "'requirements' must be a list of requirements or a mapping of 'must' and "
            "'should' lists",
        )
        return []
    unknown_keys(value, set(REQUIREMENT_LISTS), "'requirements'", problems)
    found: list[RequirementSpec] = []
    for key in REQUIREMENT_LISTS:
        if key not in value:
            continue
        where = f"'requirements.{key}'"
        if isinstance(value[key], YamlSequence):
            found += _requirement_list(value[key], key, where, problems)
        else:
            problems.add(value.key_lines[key], f"{where} must be a list of requirements")
    return sorted(found, key=lambda requirement: requirement.line)


def _requirement_list(
    items: YamlSequence, listed_as: str | None, where: str, problems: Problems
) -> list[RequirementSpec]:
    found = []
    for item, line in zip(items, items.item_lines, strict=True):
        if not isinstance(item, str):
            # Usually an unquoted item with ": " in it, which YAML reads as a mapping.
            problems.add(line, f"a requirement in {where} is not text (quote it if it has ': ')")
            continue
        text = " ".join(item.split())  # a folded or multi-line item reads as one line
        if not text:
            problems.add(line, f"a requirement in {where} is empty")
            continue
        found.append(RequirementSpec(text, listed_as, line))
    return found
