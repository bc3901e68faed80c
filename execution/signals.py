from __future__ import annotations

from django.dispatch import Signal

# Sent inside the import transaction with `masterplan` and `document` (the parsed
# MasterPlanDocument). Receivers that raise MasterPlanFormatError reject the import and
# roll it back whole; this is how apps that build on execution add their rows.
masterplan_imported = Signal()

# Sent after a wave closed (all its atoms completed, failed, blocked or skipped), with
# `wave`: the post-wave hook (acceptance tests run here). With MGE_ACCEPTANCE_AFTER_WAVES
# the engine leaves two decisions to the receiver: after the last wave the plan stays
# running until the receiver calls `engine.advance_masterplan(id, gate_decided=True)` or
# ends it `gate_failed`; with the plan option `enforce_gate_per_wave` the same holds after
# every wave.
wave_finished = Signal()
