"""The atoms table of a masterplan's page: filtered by status, a page at a time.

The live region re-renders the table every 2 s while the plan runs; a plan of 1,000 atoms
rendered whole was ~0.6 MB and ~250 ms of CPU a poll, so the table shows one page.
"""

from __future__ import annotations

from uuid import UUID

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import QueryDict

from execution.models import Atom, MasterPlan

ATOMS_PER_PAGE = 100


def atoms_page(masterplan: MasterPlan, query: QueryDict) -> tuple[Page, str]:
    """The page of atoms `?status=…&page=…` asks for (`?atom=<id>`: the page holding that
    atom, so a link to `#atom-<id>` finds it), and the status filter in effect ("" for all)."""
    status_filter = query.get("status", "")
    atoms: QuerySet[Atom] = masterplan.atoms.select_related("wave", "task").order_by(
        "wave__number", "source_line", "pk"
    )
    if status_filter in Atom.Status.values:
        atoms = atoms.filter(status=status_filter)
    else:
        status_filter = ""
    paginator = Paginator(atoms, ATOMS_PER_PAGE)
    number = query.get("page")
    located = _position(atoms, query.get("atom", ""))
    if located is not None:
        number = str(located // ATOMS_PER_PAGE + 1)
    return paginator.get_page(number), status_filter


def _position(atoms: QuerySet[Atom], atom_id: str) -> int | None:
    """How many atoms come before `atom_id` in the table's order (None: not in it)."""
    try:
        atom = atoms.filter(pk=UUID(atom_id)).values("pk", "wave__number", "source_line").first()
    except ValueError:  # absent, or not an id: the page asked for
        return None
    if atom is None or atom["wave__number"] is None:
        return None
    wave, line = atom["wave__number"], atom["source_line"]
    return atoms.filter(
        Q(wave__number__lt=wave)
        | Q(wave__number=wave, source_line__lt=line)
        | Q(wave__number=wave, source_line=line, pk__lt=atom["pk"])
    ).count()


def page_links(status_filter: str, page: Page) -> dict[str, str]:
    """Query strings of this filter: `poll` shows this page again (the live region's poll),
    `previous` and `next` the pages around it (absent at the ends)."""
    links = {"poll": _query(status_filter, page.number)}
    if page.has_previous():
        links["previous"] = _query(status_filter, page.previous_page_number())
    if page.has_next():
        links["next"] = _query(status_filter, page.next_page_number())
    return links


def _query(status_filter: str, number: int) -> str:
    query = QueryDict(mutable=True)
    if status_filter:
        query["status"] = status_filter
    if number > 1:
        query["page"] = str(number)
    return f"?{query.urlencode()}"
