from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st

from flowctl.db.secrets import SecretCipher, is_sensitive_name
from flowctl.exceptions import ConfigError, DatabaseError

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


@given(st.text(st.characters(codec="utf-8")))
def test_decrypt_returns_the_encrypted_text(text: str) -> None:
    cipher = SecretCipher(NEW_KEY)

    assert cipher.decrypt(cipher.encrypt(text)) == text


def test_encrypted_token_does_not_contain_the_text() -> None:
    token = SecretCipher(NEW_KEY).encrypt("hunter2-password")

    assert "hunter2" not in token


def test_none_passes_through_encrypt_decrypt_and_rotate() -> None:
    cipher = SecretCipher(NEW_KEY)

    assert cipher.encrypt(None) is None
    assert cipher.decrypt(None) is None
    assert cipher.rotate(None) is None


def test_token_made_with_old_key_decrypts_when_old_key_is_listed_second() -> None:
    token = SecretCipher(OLD_KEY).encrypt("s3cr3t")

    assert SecretCipher(f"{NEW_KEY},{OLD_KEY}").decrypt(token) == "s3cr3t"


def test_rotated_token_decrypts_with_new_key_alone() -> None:
    # Given a secret stored under the old key
    token = SecretCipher(OLD_KEY).encrypt("s3cr3t")

    # When it is rotated while both keys are configured
    rotated = SecretCipher(f"{NEW_KEY}, {OLD_KEY}").rotate(token)

    # Then the old key can be dropped
    assert SecretCipher(NEW_KEY).decrypt(rotated) == "s3cr3t"
    with pytest.raises(DatabaseError):
        SecretCipher(OLD_KEY).decrypt(rotated)


def test_encrypt_uses_the_first_key() -> None:
    token = SecretCipher(f"{NEW_KEY},{OLD_KEY}").encrypt("s3cr3t")

    assert SecretCipher(NEW_KEY).decrypt(token) == "s3cr3t"


def test_token_from_an_unknown_key_raises_one_line_database_error() -> None:
    token = SecretCipher(OLD_KEY).encrypt("s3cr3t")

    with pytest.raises(DatabaseError, match=r"cannot be decrypted with the configured \[core\] fernet_key") as exc:
        SecretCipher(NEW_KEY).decrypt(token)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("token", ["", "not a token", "gAAAAAB-garbage", "é"])
def test_garbage_token_raises_database_error(token: str) -> None:
    with pytest.raises(DatabaseError):
        SecretCipher(NEW_KEY).decrypt(token)
    with pytest.raises(DatabaseError):
        SecretCipher(NEW_KEY).rotate(token)


@pytest.mark.parametrize("fernet_key", ["", "   ", " , ,"])
def test_empty_fernet_key_is_a_config_error(fernet_key: str) -> None:
    with pytest.raises(ConfigError, match=r"^\[core\] fernet_key is empty: "):
        SecretCipher(fernet_key)


@pytest.mark.parametrize("bad_key", ["not-a-key-sekrit", "c2hvcnQ=", "ключ"])
def test_malformed_fernet_key_is_a_config_error_that_hides_the_key(bad_key: str) -> None:
    with pytest.raises(ConfigError, match=r"^\[core\] fernet_key is not a valid Fernet key") as exc:
        SecretCipher(f"{NEW_KEY},{bad_key}")
    assert bad_key not in str(exc.value)
    assert NEW_KEY not in str(exc.value)
    assert "key 2 of 2" in str(exc.value)


def test_repr_does_not_show_the_key() -> None:
    assert NEW_KEY not in repr(SecretCipher(NEW_KEY))


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "db_PASSWORD",
        "passwd",
        "client_secret",
        "refresh_token",
        "API_KEY",
        "x-api-key",
        "apikey",
        "ssh_private_key",
        "access_token",
        "Authorization",
        "gcp_credentials",
    ],
)
def test_names_with_secret_words_are_sensitive(name: str) -> None:
    assert is_sensitive_name(name)


@pytest.mark.parametrize("name", ["host", "region", "bucket_name", "timeout", "keyfile_path", ""])
def test_ordinary_names_are_not_sensitive(name: str) -> None:
    assert not is_sensitive_name(name)
