"""What an atom's prompt is given besides its spec: the code of its declared dependencies,
and what defines the names its spec mentions elsewhere in the plan's corpus
(execution.context.corpus) — files of earlier waves, or the specs of files not written
yet — the best of them as the database's full-text search ranks them for its spec. With
it, the context's completeness: the share of its declared dependencies and of those names
the prompt holds.

Only chunks defining a mentioned name are searched: a prompt changes when what it relies
on changes, not when any spec of the plan does (the response cache answers an unchanged
prompt). The search's answers may be cached (the caching app plugs in its retrieval
cache), keyed by the query and the version of the chunks searched, so they outlive
neither.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from django.conf import settings
from django.db.models import Q

from execution.context.corpus import corpus_version, index_plan
from execution.context.names import defined_in_spec, identifiers, search_terms
from execution.context.search import search
from execution.llm.prompts import ContextFile, Retrieved, plan_context
from execution.models import Atom, AtomDependency, ContextChunk, Wave


@dataclass
class AtomContext:
    files: list[ContextFile] = field(default_factory=list)
    """The code of its completed declared dependencies."""
    retrieved: list[Retrieved] = field(default_factory=list)
    dependencies: int = 0
    """Its declared dependencies, completed or not."""
    names: list[str] = field(default_factory=list)
    """The names its spec mentions that a file of the plan defines."""
    names_found: list[str] = field(default_factory=list)
    cache_hit: bool = False
    shared: str = ""
    """The plan's shared context (its overview), the same string for every atom of a job."""

    @property
    def score(self) -> float:
        """Found ÷ needed, over dependencies and names; 1.0 when it needs none."""
        needed = self.dependencies + len(self.names)
        found = len(self.files) + len(self.names_found)
        return round(found / needed, 4) if needed else 1.0


class RetrievalCache(Protocol):
    def get(self, key: str, masterplan_id: str) -> list[Retrieved] | None: ...

    def put(self, key: str, masterplan_id: str, chunks: list[Retrieved], about: str) -> None:
        """Keep a search's answer; `about` names the atom it was for (for people)."""
        ...


_cache: RetrievalCache | None = None


def plug_cache(cache: RetrievalCache | None) -> None:
    """The caching app's retrieval cache (None: every search asks the database)."""
    global _cache
    _cache = cache


def build_contexts(wave: Wave, atoms: dict[uuid.UUID, Atom]) -> dict[uuid.UUID, AtomContext]:
    """The context of each of a wave job's atoms, in a few queries for the whole job."""
    shared = plan_context(wave.masterplan.description)
    contexts = {atom_id: AtomContext(shared=shared) for atom_id in atoms}
    dependencies: dict[uuid.UUID, list[Atom]] = {}
    edges = (
        AtomDependency.objects.filter(atom_id__in=list(atoms))
        .select_related("depends_on")
        .order_by("depends_on__source_line")
    )
    for edge in edges:
        context = contexts[edge.atom_id]
        context.dependencies += 1
        dependency = edge.depends_on
        dependencies.setdefault(edge.atom_id, []).append(dependency)
        if dependency.status == Atom.Status.COMPLETED:
            context.files.append(
                ContextFile(dependency.file_path, dependency.language, dependency.generated_code)
            )
    if settings.MGE_RETRIEVAL == "on" and atoms:
        _retrieve(wave, atoms, contexts, dependencies)
    Atom.objects.bulk_update(
        [_scored(atoms[atom_id], context) for atom_id, context in contexts.items()],
        ["context_score"],
    )
    return contexts


def _scored(atom: Atom, context: AtomContext) -> Atom:
    atom.context_score = context.score
    return atom


def _retrieve(
    wave: Wave,
    atoms: dict[uuid.UUID, Atom],
    contexts: dict[uuid.UUID, AtomContext],
    dependencies: dict[uuid.UUID, list[Atom]],
) -> None:
    index_plan(wave.masterplan_id, wave.number)
    corpus = Q(kind=ContextChunk.Kind.SPEC) | Q(
        kind=ContextChunk.Kind.FILE, wave_number__lt=wave.number
    )
    rows = [
        _Row(*row)
        for row in ContextChunk.objects.filter(corpus, masterplan_id=wave.masterplan_id)
        .order_by("source", "kind")
        .values_list("pk", "atom_id", "kind", "source", "digest", "names")
    ]
    # A file written is found instead of its spec.
    written = {row.atom_id for row in rows if row.kind == ContextChunk.Kind.FILE}
    rows = [row for row in rows if row.kind == ContextChunk.Kind.FILE or row.atom_id not in written]
    # Who defines each name: looked up per name an atom's spec mentions, not by scanning
    # every chunk for every atom (a job's atoms × the plan's chunks).
    defined_by: dict[str, list[_Row]] = {}
    for row in rows:
        for name in row.names:
            defined_by.setdefault(name, []).append(row)
    for atom_id, atom in atoms.items():
        context = contexts[atom_id]
        needed = dependencies.get(atom_id, [])
        own = {atom_id, *(dependency.pk for dependency in needed)}
        mentioned = identifiers(atom.description) - set(defined_in_spec(atom.description))
        # What the spec mentions that another file of the plan defines: its dependencies'
        # (whose code the prompt holds) and the candidates of the search.
        others = {
            name: [row for row in defined_by.get(name, ()) if row.atom_id != atom_id]
            for name in mentioned
        }
        defining = {row.pk: row for found in others.values() for row in found}.values()
        candidates = [row for row in defining if row.atom_id not in own]
        if candidates:
            context.retrieved, context.cache_hit = _search_or_cached(wave, atom, candidates)
        held = {file.file_path for file in context.files} | {
            chunk.source for chunk in context.retrieved
        }
        context.names = sorted(name for name, found in others.items() if found)
        context.names_found = [
            name for name in context.names if any(row.source in held for row in others[name])
        ]


class _Row(NamedTuple):
    pk: uuid.UUID
    atom_id: uuid.UUID
    kind: str
    source: str
    digest: str
    names: list[str]


def _search_or_cached(
    wave: Wave, atom: Atom, candidates: list[_Row]
) -> tuple[list[Retrieved], bool]:
    """The best candidates for the atom's spec, ranked by the database's full-text search,
    from the retrieval cache (True) when the same search of the same chunks was made."""
    terms = search_terms(f"{atom.name} {atom.description}")
    key = _key(corpus_version((row.kind, row.source, row.digest) for row in candidates), terms)
    plan = str(wave.masterplan_id)
    found = _cache.get(key, plan) if _cache else None
    if found is not None:
        return found, True
    found = _within_budget(
        search(
            wave.masterplan_id, terms, corpus=Q(pk__in=[row.pk for row in candidates]),
            exclude_atoms=(), limit=settings.MGE_RETRIEVAL_CHUNKS,
        )
    )  # fmt: skip
    if _cache:
        _cache.put(key, plan, found, f"{atom.name} ({atom.file_path})")
    return found, False


def _key(version: str, terms: list[str]) -> str:
    """The query, normalised, and the version of the chunks it searches: what the answer
    depends on (not the plan: the same document run again finds the same chunks)."""
    query = {
        "chunks": version,
        "terms": terms,
        "limit": settings.MGE_RETRIEVAL_CHUNKS,
        "max_chars": settings.MGE_RETRIEVAL_MAX_CHARS,
    }
    return hashlib.sha256(json.dumps(query, sort_keys=True).encode()).hexdigest()


def _within_budget(chunks: list[ContextChunk]) -> list[Retrieved]:
    """The best chunks, in rank order, as many as fit MGE_RETRIEVAL_MAX_CHARS."""
    kept: list[Retrieved] = []
    room = settings.MGE_RETRIEVAL_MAX_CHARS
    for chunk in chunks:
        if len(chunk.text) > room:
            continue
        room -= len(chunk.text)
        kept.append(Retrieved(chunk.kind, chunk.source, chunk.text, chunk.language))
    return kept
