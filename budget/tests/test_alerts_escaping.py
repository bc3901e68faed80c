"""What a webhook alert says of a plan whose name is mrkdwn."""

from __future__ import annotations

from decimal import Decimal

import pytest

from budget.alerts import raise_alert, slack_escaped
from budget.models import BudgetAlert
from execution.models import MasterPlan


def test_slack_control_characters_are_escaped():
    assert slack_escaped("<!channel> <@U123|bob> & <https://x|y>") == (
        "&lt;!channel&gt; &lt;@U123|bob&gt; &amp; &lt;https://x|y&gt;"
    )


@pytest.mark.django_db
def test_a_plan_named_like_a_mention_notifies_nobody(imported, webhook):
    masterplan = imported("slugkit")
    MasterPlan.objects.filter(pk=masterplan.pk).update(name="<!channel> <@U024BE7LH> plan")
    masterplan.refresh_from_db()
    alert = raise_alert(masterplan, BudgetAlert.Level.WARNING, Decimal("1"), Decimal("2"),
                        "soft cap crossed by <!here>")  # fmt: skip
    assert alert is not None and "webhook" in alert.channels
    text = webhook[0]["text"]
    assert "&lt;!channel&gt; &lt;@U024BE7LH&gt; plan: soft cap crossed by &lt;!here&gt;" in text
    assert "<!" not in text and "<@" not in text
