"""Who an account is: one role per user, stored as its string value."""
from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """An account's role; a StrEnum, so a role read from the database compares equal to its member."""

    STUDENT = "student"
    PARENT = "parent"
    TUTOR = "tutor"
    ADMIN = "admin"
    SUPPORT = "support"  # a support agent: sees users, bookings and tickets; refunds up to a configured amount


# Roles that work in the admin panel (admins can do everything there; support agents what `can_*` below allow).
STAFF_ROLES: tuple[Role, ...] = (Role.ADMIN, Role.SUPPORT)


# Roles a visitor may pick when registering (admins are made with `flask create-admin`).
SELF_SERVICE_ROLES: tuple[Role, ...] = (Role.STUDENT, Role.PARENT, Role.TUTOR)


def refund_cap_minor(role: str, support_cap_minor: int) -> int | None:
    """The largest refund (minor units) `role` may make in the admin panel: None means no cap (admins), 0 means none."""
    if role == Role.ADMIN:
        return None
    if role == Role.SUPPORT:
        return max(support_cap_minor, 0)
    return 0
