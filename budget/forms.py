from __future__ import annotations

from decimal import Decimal

from django import forms


class OverrideForm(forms.Form):
    new_hard_cap = forms.DecimalField(
        max_digits=14, decimal_places=6, min_value=Decimal("0.000001"), label="New hard cap (USD)"
    )
    new_soft_cap = forms.DecimalField(
        max_digits=14, decimal_places=6, min_value=Decimal(0), required=False,
        label="New soft cap (USD)", help_text="Empty: it keeps its share of the hard cap.",
    )  # fmt: skip
    confirmation_code = forms.CharField(max_length=20, help_text="From the approvers' mail.")
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)


class CapsForm(forms.Form):
    soft_cap_usd = forms.DecimalField(
        max_digits=14, decimal_places=6, min_value=0, label="Soft cap (USD)"
    )
    hard_cap_usd = forms.DecimalField(
        max_digits=14, decimal_places=6, min_value=0, label="Hard cap (USD)"
    )


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("grant", "Grant"), ("refuse", "Refuse")])
    note = forms.CharField(
        required=False, max_length=2000, widget=forms.TextInput(attrs={"placeholder": "Why"})
    )
