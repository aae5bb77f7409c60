"""Secrets we must keep but never show (a Google refresh token), sealed with Fernet (AES-128-CBC + HMAC-SHA256)
under a key derived from SECRET_KEY, so a copy of the database alone does not give access to anyone's calendar.

Changing SECRET_KEY makes sealed values unreadable: the tutors concerned connect Google again."""
from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class Unreadable(ValueError):
    """A sealed value that this key cannot open (another SECRET_KEY, or tampered with)."""


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"lessonbook sealed calendar credentials v1").derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(value: str, secret_key: str) -> str:
    """`value`, encrypted and authenticated."""
    return _fernet(secret_key).encrypt(value.encode()).decode()


def unseal(sealed_value: str, secret_key: str) -> str:
    """The value `seal` sealed, or Unreadable."""
    try:
        return _fernet(secret_key).decrypt(sealed_value.encode()).decode()
    except (InvalidToken, ValueError):
        raise Unreadable("the sealed value cannot be opened with this key") from None
