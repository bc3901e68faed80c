"""Full-text search of a plan's chunks, ranked by the database: PostgreSQL's `ts_rank`
over a `simple` search vector, SQLite's FTS5 `bm25` (the table the migration keeps in
step). No ranking of our own: the query is the words, the database orders the matches."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Q

from execution.models import ContextChunk


def search(
    masterplan_id: uuid.UUID | str,
    terms: Sequence[str],
    *,
    corpus: Q,
    exclude_atoms: Collection[uuid.UUID],
    limit: int,
) -> list[ContextChunk]:
    """The best `limit` chunks of the corpus matching any of the terms, best first."""
    if not terms or limit <= 0:
        return []
    chunks = ContextChunk.objects.filter(corpus, masterplan_id=masterplan_id).exclude(
        atom_id__in=exclude_atoms
    )
    if connection.vendor == "postgresql":
        # Terms are [a-z0-9]+ words (names.search_terms): safe in a raw tsquery.
        query = SearchQuery(" | ".join(terms), search_type="raw", config="simple")
        vector = SearchVector("search_text", config="simple")
        return list(
            chunks.annotate(match=vector, rank=SearchRank(vector, query))
            .filter(match=query)
            .order_by("-rank", "source", "kind")[:limit]
        )
    matches = " OR ".join(f'"{term}"' for term in terms)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT chunk_id FROM execution_contextchunk_fts WHERE execution_contextchunk_fts "
            "MATCH %s ORDER BY bm25(execution_contextchunk_fts)",
            [matches],
        )
        ranked = [row[0] for row in cursor.fetchall()]
    found = {chunk.pk.hex: chunk for chunk in chunks.filter(pk__in=ranked)}
    return [found[key] for key in ranked if key in found][:limit]
