"""Which isolation runs here (bwrap, unshare, or none in DEBUG), and dropping privileges."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

from django.conf import settings

SANDBOX_UID = 65534  # nobody
_PROBE_TIMEOUT_S = 20

SETPRIV_CAPS = ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
INSTALL_HINT = (
    "install bubblewrap (Debian: apt-get install bubblewrap; `make system-deps` does it as "
    "root), or allow user namespaces for `unshare` (sysctl user.max_user_namespaces > 0)"
)


class SandboxUnavailable(RuntimeError):
    """No isolation works here, or `none` was asked for outside DEBUG."""


def select_kind() -> str:
    """bwrap, unshare or none, as MGE_SANDBOX asks and this machine allows."""
    wanted = settings.MGE_SANDBOX
    if wanted == "none":
        if not settings.DEBUG:
            raise SandboxUnavailable(
                "MGE_SANDBOX=none runs generated code without isolation and is allowed only "
                "with DJANGO_DEBUG=true; unset it and " + INSTALL_HINT + "."
            )
        return "none"
    if wanted in ("auto", "bwrap") and bwrap_works():
        return "bwrap"
    if wanted == "bwrap":
        raise SandboxUnavailable(
            "MGE_SANDBOX=bwrap but bubblewrap does not run here: install bubblewrap "
            "(Debian: apt-get install bubblewrap)."
        )
    if unshare_works():
        return "unshare"
    raise SandboxUnavailable(f"No sandbox works on this machine: {INSTALL_HINT}.")


def drop_privileges(*, to_nobody: bool) -> list[str]:
    """setpriv, as the last step before the command: no capabilities, even after an exec of
    a setuid binary, and (as root) the real uid and gid of nobody."""
    user = [f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups"]
    capabilities = ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    return ["setpriv", *(user if to_nobody else []), *capabilities, "--"]


@functools.cache
def bwrap_works() -> bool:
    if shutil.which("bwrap") is None:
        return False
    argv = ["bwrap", "--unshare-pid", "--unshare-net", "--ro-bind", "/", "/", "--proc", "/proc"]
    if os.geteuid() == 0:
        argv += [*SETPRIV_CAPS, "--", *drop_privileges(to_nobody=True), "true"]
    else:
        argv += ["--unshare-user", "--", "true"]
    return _succeeds(argv)


@functools.cache
def unshare_works() -> bool:
    if shutil.which("unshare") is None or shutil.which("setpriv") is None:
        return False
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return _succeeds(["unshare", *user, "--net", "--pid", "--fork", "--mount-proc", "true"])


def _succeeds(argv: list[str]) -> bool:
    try:
        result = subprocess.run(argv, capture_output=True, timeout=_PROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0
