"""A plan's corpus for its atoms' context, kept in `ContextChunk` rows: each atom's spec
(the plan part of its document) and each written file with the names it defines.

An atom of wave N is given what the plan knew when wave N began: the specs, and the files
of earlier waves. Files its own wave writes meanwhile are left out — they arrive in an
order the scheduling decides, and the same plan run twice must ask the same prompts (the
response cache answers only a prompt asked before).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from typing import NamedTuple

from django.db import transaction

from execution.context.names import defined_in_spec, public_names
from execution.models import Atom, ContextChunk


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class _Atom(NamedTuple):
    """What the corpus reads of an atom (a row, not a model instance: a wave job reads the
    whole plan's)."""

    pk: uuid.UUID
    masterplan_id: uuid.UUID
    wave_number: int
    name: str
    file_path: str
    language: str
    description: str
    status: str
    generated_code: str

    @property
    def spec_text(self) -> str:
        return f"{self.name} ({self.file_path}, {self.language}): {self.description.strip()}"


def _spec_chunk(atom: _Atom, digest: str) -> ContextChunk:
    text = atom.spec_text
    return ContextChunk(
        masterplan_id=atom.masterplan_id, atom_id=atom.pk, kind=ContextChunk.Kind.SPEC,
        source=atom.file_path, language=atom.language, text=text, search_text=text,
        names=defined_in_spec(atom.description), digest=digest, wave_number=atom.wave_number,
    )  # fmt: skip


def _file_chunk(atom: _Atom, digest: str) -> ContextChunk:
    return ContextChunk(
        masterplan_id=atom.masterplan_id, atom_id=atom.pk, kind=ContextChunk.Kind.FILE,
        source=atom.file_path, language=atom.language, text=atom.generated_code,
        search_text=f"{atom.file_path}\n{atom.generated_code}",
        names=public_names(atom.language, atom.generated_code),
        digest=digest, wave_number=atom.wave_number,
    )  # fmt: skip


def index_plan(masterplan_id: uuid.UUID | str, before_wave: int) -> None:
    """Bring the plan's chunks up to date for a wave: every atom's spec, and the files
    of the atoms of earlier waves as they are now (a regenerated file replaces its
    chunk). Jobs of the same wave may index at once: a chunk already there is kept.

    Every wave job asks, so a chunk is compared by its text's digest first and built
    (its names read from the spec or parsed from the code) only when it is missing:
    building all of them again cost ~90 ms of CPU a job at the tenth wave of a 1,000-atom
    plan, ~10 ms now."""
    kept = set(
        ContextChunk.objects.filter(masterplan_id=masterplan_id).values_list(
            "atom_id", "kind", "digest"
        )
    )
    rows = Atom.objects.filter(masterplan_id=masterplan_id, wave__isnull=False).values_list(
        "pk", "masterplan_id", "wave__number", "name", "file_path", "language", "description",
        "status", "generated_code",
    )  # fmt: skip
    missing = []
    for atom in map(_Atom._make, rows):
        spec = _digest(atom.spec_text)
        if (atom.pk, ContextChunk.Kind.SPEC, spec) not in kept:
            missing.append(_spec_chunk(atom, spec))
        written = atom.wave_number < before_wave and atom.status == Atom.Status.COMPLETED
        if not (written and atom.generated_code):
            continue
        code = _digest(atom.generated_code)
        if (atom.pk, ContextChunk.Kind.FILE, code) not in kept:
            missing.append(_file_chunk(atom, code))
    if missing:
        _replace(missing)


def _replace(missing: list[ContextChunk]) -> None:
    with transaction.atomic():
        # A file written again (or a spec edited) has a new digest: its old chunk goes.
        for kind in {chunk.kind for chunk in missing}:
            ContextChunk.objects.filter(
                atom_id__in=[chunk.atom_id for chunk in missing if chunk.kind == kind], kind=kind
            ).delete()
        ContextChunk.objects.bulk_create(missing, ignore_conflicts=True)


def corpus_version(chunks: Iterable[tuple[str, str, str]]) -> str:
    """A digest of the chunks a search may return (kind, source, text digest): the same
    chunks have the same version whichever plan holds them, and any change makes a new one."""
    return _digest("\n".join(sorted(" ".join(chunk) for chunk in chunks)))
