"""Roles and what each may do: plain enums with no pydantic, so every HTTP blueprint can name a permission at
import time without slowing the app's cold start (the principal parsing lives in shared/auth.py)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Entra app roles (app registration ``appRoles`` values)."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    APPROVER = "approver"
    ADMIN = "admin"


class Permission(StrEnum):
    READ = "read"  # pages and GET routes
    ACT = "act"  # suspend, reactivate, holds, exemptions, promises, cases, notes, disputes, sweep, scan, replay
    DECIDE = "decide"  # approvals and fraud containment
    INGEST = "ingest"  # system ingress (payment events from other systems)


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.OPERATOR: frozenset({Permission.READ, Permission.ACT}),
    Role.APPROVER: frozenset({Permission.READ, Permission.DECIDE}),
    Role.ADMIN: frozenset(Permission),
}
