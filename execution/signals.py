from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

# Sent inside the import transaction with `masterplan` and `document` (the parsed
# MasterPlanDocument). Receivers that raise MasterPlanFormatError reject the import and
# roll it back whole; this is how apps that build on execution add their rows. A receiver
# may return a sentence for the importer (the API's `notices`, a message on the page). (What runs
# after a wave is not a signal: apps register checks, execution.runtime.checks.)
masterplan_imported = Signal()

# Sent once an edit of a masterplan's caps outside the budget app's own verbs (the admin)
# has committed, with `masterplan`: the budget's live counters take the new caps.
caps_changed = Signal()

# Sent by the lease sweep inside its transaction, with `masterplan_id` and `atom_ids` (str),
# while those atoms are still locked and running — before anyone can claim them again:
# their worker died. The budget settles the calls they had in flight, at an estimate.
atoms_abandoned = Signal()

# Sent once the closing of a wave (completed or failed: execution.runtime.waves) has committed,
# with `wave_id`; and once a masterplan's final status (completed, failed, gate_failed,
# cancelled) has, with `masterplan_id` and `status`. Sent robustly: a receiver that raises
# is logged, the lifecycle goes on. OpenTelemetry exports the wave's and the plan's spans.
wave_finished = Signal()
masterplan_finished = Signal()


def send_on_commit(signal: Signal, sender: type, **data: object) -> None:
    """Tell the signal's receivers once the change has committed; one that raises is
    logged (send_robust) and never undoes or fails what sent it."""
    transaction.on_commit(lambda: signal.send_robust(sender=sender, **data))
