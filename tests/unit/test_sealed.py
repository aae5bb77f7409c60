"""Sealed credentials: only the key that sealed a value opens it, and tampering is noticed."""
import pytest

from webapp.adapters.sealed import Unreadable, seal, unseal


def test_a_sealed_value_opens_with_its_key_only():
    sealed_value = seal("1//0refresh-token", "key-one")
    assert "refresh" not in sealed_value and unseal(sealed_value, "key-one") == "1//0refresh-token"
    with pytest.raises(Unreadable):
        unseal(sealed_value, "key-two")


def test_a_tampered_value_is_refused():
    sealed_value = seal("secret", "key")
    with pytest.raises(Unreadable):
        unseal(sealed_value[:-4] + "AAAA", "key")
    with pytest.raises(Unreadable):
        unseal("", "key")
