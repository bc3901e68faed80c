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

from django.db import transaction

from execution.context.names import defined_in_spec, public_names
from execution.models import Atom, ContextChunk


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def spec_chunk(atom: Atom, wave_number: int) -> ContextChunk:
    text = f"{atom.name} ({atom.file_path}, {atom.language}): {atom.description.strip()}"
    return ContextChunk(
        masterplan_id=atom.masterplan_id, atom=atom, kind=ContextChunk.Kind.SPEC,
        source=atom.file_path, language=atom.language, text=text, search_text=text,
        names=defined_in_spec(atom.description), digest=_digest(text), wave_number=wave_number,
    )  # fmt: skip


def file_chunk(atom: Atom, wave_number: int) -> ContextChunk:
    return ContextChunk(
        masterplan_id=atom.masterplan_id, atom=atom, kind=ContextChunk.Kind.FILE,
        source=atom.file_path, language=atom.language, text=atom.generated_code,
        search_text=f"{atom.file_path}\n{atom.generated_code}",
        names=public_names(atom.language, atom.generated_code),
        digest=_digest(atom.generated_code), wave_number=wave_number,
    )  # fmt: skip


def index_plan(masterplan_id: uuid.UUID | str, before_wave: int) -> None:
    """Bring the plan's chunks up to date for a wave: every atom's spec, and the files
    of the atoms of earlier waves as they are now (a regenerated file replaces its
    chunk). Jobs of the same wave may index at once: a chunk already there is kept."""
    atoms = list(
        Atom.objects.filter(masterplan_id=masterplan_id, wave__isnull=False)
        .select_related("wave")
        .only(
            "id", "masterplan_id", "name", "file_path", "language", "description", "status",
            "generated_code", "wave__number",
        )
    )  # fmt: skip
    wanted = [spec_chunk(atom, atom.wave.number) for atom in atoms if atom.wave]
    wanted += [
        file_chunk(atom, atom.wave.number)
        for atom in atoms
        if atom.wave and atom.wave.number < before_wave and atom.status == Atom.Status.COMPLETED
        and atom.generated_code
    ]  # fmt: skip
    _keep_only(masterplan_id, wanted)


def _keep_only(masterplan_id: uuid.UUID | str, wanted: Iterable[ContextChunk]) -> None:
    wanted = list(wanted)
    kept = set(
        ContextChunk.objects.filter(masterplan_id=masterplan_id).values_list(
            "atom_id", "kind", "digest"
        )
    )
    missing = [chunk for chunk in wanted if (chunk.atom_id, chunk.kind, chunk.digest) not in kept]
    if not missing:
        return
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
