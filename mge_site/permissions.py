from __future__ import annotations

from rest_framework.permissions import DjangoModelPermissions


class RoleModelPermissions(DjangoModelPermissions):
    """Model permissions that also guard reads.

    DRF's default lets any authenticated user read; here reading needs `view_<model>`,
    which the `viewer`, `reviewer` and `budget_approver` groups hold.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }
