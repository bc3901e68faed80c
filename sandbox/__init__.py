"""The sandbox: the only place generated code runs (the acceptance runner's tests, and
next precision's builds). Generated code and the tests written for it are both an LLM's
work, so a run is treated as hostile:

- it sees the host's filesystem read-only; /tmp (where its copy of the workspace lives),
  /dev/shm and a home directory are private, size-limited tmpfs. The project's directory
  (it may hold a `.env`), the workspace root, the runner's home and /run (PostgreSQL's and
  other services' sockets) are hidden behind empty tmpfs; what a run needs from them (the
  virtualenv, the Python it points to, Vitest) is bound back read-only;
- it has its own PID namespace (everything it starts dies with it, double-forked daemons
  too), network namespace (nothing but its own loopback), IPC and UTS namespaces, and a new
  session (no TIOCSTI into our terminal);
- it runs as uid/gid 65534 without capabilities, with no_new_privs; every process gets
  rlimits on CPU seconds, address space, file size, open files and core dumps; the whole
  run a process cap: a pids cgroup's pids.max, else RLIMIT_NPROC where the uid is not root
  (the kernel does not count root's processes);
- its environment is built from nothing (no key, token, database or Redis URL leaks in);
- at its wall-clock deadline it is killed with everything in it.

bwrap does all of it in one exec. As root, bwrap makes the namespaces without a user
namespace and setpriv drops to the real uid 65534: inside a user namespace the uid would
only be renamed, and a process that is root to the kernel reads every root-owned file and
writes root-owned sysctls. Without bwrap, `unshare` and a script of `mount` calls build
the same filesystem. `none` (DEBUG only) runs the command as it is, with the rlimits only.
"""

from __future__ import annotations

from sandbox.isolated import Execution, Limits, Sandbox, open_sandbox
from sandbox.kinds import SandboxUnavailable, select_kind

__all__ = ["Execution", "Limits", "Sandbox", "SandboxUnavailable", "open_sandbox", "select_kind"]
