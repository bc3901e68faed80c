"""`make run`: prepare the site and start web + worker + scheduler under honcho.

Picks Redis (REDIS_URL, else a server on 127.0.0.1:6379, else the bundled redis-server),
migrates, collects static files, loads the example masterplans, makes sure the demo user
exists, prints where to log in, then runs the Procfile until Ctrl-C stops everything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from mge_site.embedded_redis import EmbeddedRedis, redis_answers

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)


def main() -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    env = dict(os.environ)
    port = env.get("PORT", "8000")
    if not port.isdigit() or not 0 < int(port) < 65536:
        print(f"PORT={port!r} is not a TCP port number (1–65535).", file=sys.stderr)
        return 2
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    embedded: EmbeddedRedis | None = None
    try:
        if env.get("REDIS_URL"):
            print(f"Redis: {env['REDIS_URL']} (REDIS_URL)")
        elif redis_answers(LOCAL_REDIS_URL):
            env["REDIS_URL"] = LOCAL_REDIS_URL
            print(f"Redis: {LOCAL_REDIS_URL}")
        else:
            embedded = EmbeddedRedis().start()
            env["REDIS_URL"] = embedded.url()
            print(f"Redis: none on 127.0.0.1:6379; started the bundled redis-server on port "
                  f"{embedded.port} (nothing kept on disk)")  # fmt: skip
        print(f"Database: {env.get('DATABASE_URL') or 'SQLite file var/mge.sqlite3'}")
        _manage(env, "migrate", "--noinput", "--verbosity", "0")
        _manage(env, "collectstatic", "--noinput", "--verbosity", "0")
        _manage(env, "mge", "load-examples")
        _manage(env, "mge", "demo-user")
        print(f"\nMGE V2 control plane: http://127.0.0.1:{port}/   (Ctrl-C stops everything)\n",
              flush=True)  # fmt: skip
        honcho = subprocess.Popen(
            [str(Path(sys.executable).parent / "honcho"), "start", "-f", "Procfile", "-p", port],
            cwd=BASE_DIR,
            env=env,
        )
        try:
            return honcho.wait()
        except KeyboardInterrupt:
            # Ctrl-C reached honcho too (same process group); let it stop its children.
            # Stopping is what the user asked for, so it is a success.
            honcho.send_signal(signal.SIGINT)
            honcho.wait()
            return 0
    except subprocess.CalledProcessError as error:
        print(f"Set-up step failed: {' '.join(error.cmd[1:])}", file=sys.stderr)
        return error.returncode or 1
    except KeyboardInterrupt:
        return 0
    finally:
        if embedded:
            embedded.stop()


if __name__ == "__main__":
    sys.exit(main())
