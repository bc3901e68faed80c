"""The API keeps its published contract: Schemathesis against the live test server.

Every operation in /api/v2/schema/ with every check (server errors, undocumented status
codes, response bodies and headers against their schemas, schema-valid requests refused,
schema-violating requests accepted, resources that outlive their DELETE …), a bounded
number of examples each and a fixed seed (MGE_CONTRACT_SEED picks another), run as a
user with every role over a real imported masterplan.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import Group
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

from execution.roles import ROLES

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.contrib.auth.models import User
    from pytest_django.live_server_helper import LiveServer

    from execution.models import MasterPlan

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.mark.timeout(600)  # a bounded run of some 1,900 requests: about 100 s alone
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_every_operation_keeps_the_published_contract(
    live_server: LiveServer,
    tmp_path: Path,
    django_user_model: type[User],
    imported: Callable[[str], MasterPlan],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The per-user limit would answer most of the run 429 (documented, but then little
    # else is tested); the strict limit on override codes stays as it is.
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", "100000/minute")
    user = django_user_model.objects.create_user("contract", "contract@example.com", "pw")
    user.groups.add(*Group.objects.filter(name__in=ROLES))
    masterplan = imported("slugkit")
    env = {
        **os.environ,
        "MGE_CONTRACT_TOKEN": Token.objects.create(user=user).key,
        "MGE_CONTRACT_MASTERPLAN": str(masterplan.pk),
        "MGE_CONTRACT_WAVE": str(masterplan.waves.get(number=1).pk),
    }
    command = [
        str(SCHEMATHESIS), "--config-file", str(CONFIG), "run",
        f"{live_server.url}/api/v2/schema/",
        "--checks", "all",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", os.environ.get("MGE_CONTRACT_EXAMPLES", "15"),
        "--seed", os.environ.get("MGE_CONTRACT_SEED", "20261202"),
        "--workers", "1",
        "--no-color",
    ]  # fmt: skip
    result = subprocess.run(  # in tmp_path: its cache directory stays out of the checkout
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-2000:]
    summary = result.stdout[result.stdout.rfind("SUMMARY") :]
    selected = re.search(r"Selected: (\d+)/(\d+)", summary)
    tested = re.search(r"Tested: (\d+)", summary)
    assert selected and tested, summary
    assert int(tested[1]) == int(selected[1]) == int(selected[2]) == operation_count(), summary


def operation_count() -> int:
    """The schema's operations, as drf-spectacular publishes them."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sum(len(operations) for operations in schema["paths"].values())
