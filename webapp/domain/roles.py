"""Who an account is: one role per user, stored as its string value."""
from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """An account's role; a StrEnum, so a role read from the database compares equal to its member."""

    STUDENT = "student"
    PARENT = "parent"
    TUTOR = "tutor"
    ADMIN = "admin"


# Roles a visitor may pick when registering (admins are made with `flask create-admin`).
SELF_SERVICE_ROLES: tuple[Role, ...] = (Role.STUDENT, Role.PARENT, Role.TUTOR)
