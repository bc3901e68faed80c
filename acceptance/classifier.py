"""MUST or SHOULD: a requirement's heading decides, else its keywords, else the LLM.

Keywords are RFC 2119's (MUST, MUST NOT, SHALL, SHALL NOT, REQUIRED → must; SHOULD, SHOULD
NOT, RECOMMENDED, NOT RECOMMENDED, MAY, OPTIONAL → should) and the plain words people use
for the same (mandatory, critical → must; could, nice to have, desirable → should). A
negation stays in its class: "MUST NOT" is a must. "MAY NOT" is no keyword of RFC 2119 and
reads both ways ("you may not copy" forbids, "the field may not be present" permits), so
it leaves the text ambiguous.

RFC 8174 makes only the capitals normative, and ordinary prose uses the same words in other
senses ("the required fields", "this may take a minute"). So the evidence comes from the
strongest tier present, and a weaker tier is not read at all:

1. keywords in capitals;
2. the modal verbs must, shall and should, in any other case;
3. the other words, in any other case.

Text that still has no keyword, or keywords of both classes, is ambiguous: the LLM is asked
once for all of a masterplan's ambiguous requirements, and `must` (the safer choice) stays
wherever it gives no clear answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from acceptance.models import Requirement
from caching import batches
from execution.llm import gateway
from execution.llm.types import LLMError, LLMRequest

MUST = Requirement.Priority.MUST
SHOULD = Requirement.Priority.SHOULD
ClassifiedBy = Requirement.ClassifiedBy

_KEYWORDS: dict[str, str | None] = {
    "must": MUST,
    "must not": MUST,
    "mustn't": MUST,
    "shall": MUST,
    "shall not": MUST,
    "shan't": MUST,
    "required": MUST,
    "mandatory": MUST,
    "critical": MUST,
    "should": SHOULD,
    "should not": SHOULD,
    "shouldn't": SHOULD,
    "recommended": SHOULD,
    "not recommended": SHOULD,
    # "X is not required" makes X optional.
    "not required": SHOULD,
    "not mandatory": SHOULD,
    "may": SHOULD,
    "optional": SHOULD,
    "optionally": SHOULD,
    "could": SHOULD,
    "nice to have": SHOULD,
    "desirable": SHOULD,
    "may not": None,  # grants or forbids: ambiguous (see above)
}
_MODAL_VERBS = {
    "must",
    "must not",
    "mustn't",
    "shall",
    "shall not",
    "shan't",
    "should",
    "should not",
    "shouldn't",
}
# Longest first, so "must not" is one keyword rather than "must"; \b keeps "mustard",
# "shoulder" and "shallow" out, and `_` counts as a letter, so `must_exist()` does too.
_KEYWORD = re.compile(
    r"\b(?:"
    + "|".join(
        re.escape(phrase).replace(r"\ ", r"[\s-]+").replace("'", "['’]")
        for phrase in sorted(_KEYWORDS, key=len, reverse=True)
    )
    + r")\b",
    re.IGNORECASE,
)
_INLINE_CODE = re.compile(r"`[^`]*`")
_ANSWER_LINE = re.compile(r"(\d+)\s*:\s*(MUST|SHOULD)", re.IGNORECASE)
_SYSTEM_PROMPT = (
    "You classify software requirements as RFC 2119 does. MUST: the software is not "
    "acceptable without it. SHOULD: recommended, optional or nice to have. Answer with "
    "exactly one line per requirement, in the form `<number>: MUST` or `<number>: SHOULD`, "
    "and nothing else."
)


@dataclass(frozen=True)
class Classification:
    priority: str
    classified_by: str
    flag: str = ""


@dataclass(frozen=True)
class _Keyword:
    written: str
    priority: str | None
    tier: int


def classify(text: str, listed_as: str | None = None) -> Classification:
    """The class of one requirement without asking the LLM; ambiguous text gets the
    default (classified_by `default`), which `classify_with_llm` can then improve."""
    keywords = _deciding_keywords(text)
    if listed_as is not None:
        return Classification(listed_as, ClassifiedBy.HEADING, _contradiction(keywords, listed_as))
    priority = _agreed_priority(keywords)
    if priority is not None:
        return Classification(priority, ClassifiedBy.KEYWORD)
    return _default(text, "must by default (the safer choice)")


def classify_with_llm(texts: Sequence[str], masterplan_id: str) -> list[Classification]:
    """Classify the ambiguous `texts` of one masterplan with one LLM request. An error or
    an answer that does not follow the format leaves every one at the default."""
    if not texts:
        return []
    try:
        response = gateway.complete(_classification_request(texts, masterplan_id))
    except LLMError as error:
        reason = f"the LLM did not answer ({str(error)[:200]}), so must by default"
        return [_default(text, reason) for text in texts]
    answers = _parse_answer(response.text, len(texts))
    if answers is None:
        return [
            _default(text, "the LLM's answer was unreadable, so must by default") for text in texts
        ]
    return [
        Classification(priority, ClassifiedBy.LLM, f"{_ambiguity(text)}: the LLM chose {priority}")
        for text, priority in zip(texts, answers, strict=True)
    ]


def states_requirement(sentence: str) -> bool:
    """Whether a sentence of prose carries a keyword strong enough to make it a
    requirement: one in capitals or a modal verb (not "the required fields")."""
    return any(keyword.tier < 3 for keyword in _keywords(sentence))


def _keywords(text: str) -> list[_Keyword]:
    found = []
    for match in _KEYWORD.finditer(_INLINE_CODE.sub(" ", text)):
        written = " ".join(match.group().split())
        phrase = re.sub(r"[\s-]+", " ", written.lower()).replace("’", "'")
        tier = 1 if written.isupper() else 2 if phrase in _MODAL_VERBS else 3
        found.append(_Keyword(written, _KEYWORDS[phrase], tier))
    return found


def _deciding_keywords(text: str) -> list[_Keyword]:
    keywords = _keywords(text)
    strongest = min((keyword.tier for keyword in keywords), default=0)
    return [keyword for keyword in keywords if keyword.tier == strongest]


def _agreed_priority(keywords: list[_Keyword]) -> str | None:
    priorities = {keyword.priority for keyword in keywords}
    return priorities.pop() if len(priorities) == 1 else None


def _contradiction(keywords: list[_Keyword], listed_as: str) -> str:
    against = list(
        dict.fromkeys(k.written for k in keywords if k.priority not in (None, listed_as))
    )
    outcome = f"its {listed_as.upper()} heading; the heading decides"
    if not against:
        return ""
    if len(against) == 1:
        return f"the keyword '{against[0]}' contradicts {outcome}"
    return f"the keywords {_listing(against)} contradict {outcome}"


def _ambiguity(text: str) -> str:
    keywords = _deciding_keywords(text)
    if not keywords:
        return "no requirement keyword and no MUST/SHOULD heading"
    undecided = [keyword.written for keyword in keywords if keyword.priority is None]
    if undecided:
        return f"'{undecided[0]}' can grant or forbid"
    return f"conflicting keywords {_listing([keyword.written for keyword in keywords])}"


def _listing(words: list[str]) -> str:
    return " and ".join(f"'{word}'" for word in dict.fromkeys(words))


def _default(text: str, outcome: str) -> Classification:
    return Classification(MUST, ClassifiedBy.DEFAULT, f"{_ambiguity(text)}: {outcome}")


def _classification_request(texts: Sequence[str], masterplan_id: str) -> LLMRequest:
    numbered = "\n".join(
        f"{number}. {' '.join(text.split())}" for number, text in enumerate(texts, 1)
    )
    return LLMRequest(
        model=settings.MGE_MODEL_BY_COMPLEXITY["low"],
        system=_SYSTEM_PROMPT,
        messages=[{"role": "user", "content": f"Requirements:\n\n{numbered}"}],
        max_tokens=16 + 8 * len(texts),
        purpose="classification",
        masterplan_id=masterplan_id,
        template_version="classification/1",
        batch=batches.wanted("classification"),
    )


def _parse_answer(text: str, count: int) -> list[str] | None:
    """The class of each of `count` requirements, or None unless the answer is exactly one
    `<number>: MUST|SHOULD` line for each of them."""
    matches = [_ANSWER_LINE.fullmatch(line.strip()) for line in text.strip().splitlines()]
    if len(matches) != count or not all(matches):
        return None
    answers = {int(match.group(1)): match.group(2).lower() for match in matches if match}
    if sorted(answers) != list(range(1, count + 1)):
        return None
    return [answers[number] for number in range(1, count + 1)]
