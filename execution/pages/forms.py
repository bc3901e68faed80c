from __future__ import annotations

from typing import Any

from django import forms


class MasterPlanUploadForm(forms.Form):
    file = forms.FileField(required=False, help_text="A masterplan document (.md), UTF-8.")
    document = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}),
        help_text="Or paste the document here.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload, text = data.get("file"), data.get("document")
        if bool(upload) == bool(text and text.strip()):
            raise forms.ValidationError("Choose a file or paste a document (one of the two).")
        if upload:
            try:
                data["document"] = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise forms.ValidationError(
                    "The file is not UTF-8 text; save the masterplan as UTF-8."
                ) from None
        return data
