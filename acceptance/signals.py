from __future__ import annotations

from django.dispatch import Signal

# Sent once a test run's results have committed, with `run` (a finished TestRun): the
# precision app scores the plan again (spec conformance is read from these results).
test_run_finished = Signal()
