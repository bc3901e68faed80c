# The benchmarks run as scripts (`python benchmarks/engine.py`) and import their helpers as the
# top-level module `_services`; mypy checks them as `benchmarks.*` (two of them are named like
# the `acceptance` and `budget` apps), so this stub points `_services` at the real module and
# its `__all__`.
from benchmarks._services import *  # noqa: F403
