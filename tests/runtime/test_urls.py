"""Database passwords never reach a message: redact_url, and the errors that
name a database."""

from __future__ import annotations

import pytest

from wfc.runtime import Engine, StoreError, UnsupportedUrlError
from wfc.runtime._urls import redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:hunter22@db:5432/shop", "postgresql://app:***@db:5432/shop"),
        ("postgres://:hunter22@db/shop?schema=wfc", "postgres://:***@db/shop?schema=wfc"),
        ("postgresql://db/shop?password=hunter22&schema=x", "postgresql://db/shop?password=***&schema=x"),
        ("postgresql://app@db/shop", "postgresql://app@db/shop"),
        ("sqlite:///srv/a:b@c.db", "sqlite:///srv/a:b@c.db"),
        ("cannot reach mysql://u:hunter22@h/d (refused)", "cannot reach mysql://u:***@h/d (refused)"),
        ("postgresql://bob:hunt@er22@db/shop", "postgresql://bob:***@db/shop"),  # a raw @ in the password
        ("database postgresql://db/x?password=hunter22: refused", "database postgresql://db/x?password=***: refused"),
    ],
)
def test_redact_url_hides_passwords_and_nothing_else(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert redact_url(shown) == shown


def test_errors_naming_a_database_never_carry_its_password() -> None:
    error = StoreError("postgresql://app:hunter22@db/shop", "login refused for postgresql://app:hunter22@db/shop")
    assert error.location == "postgresql://app:***@db/shop"
    assert "hunter22" not in str(error)
    unsupported = UnsupportedUrlError("mysql://app:hunter22@db/shop", ["sqlite:///PATH"])
    assert unsupported.url == "mysql://app:***@db/shop"
    assert "hunter22" not in str(unsupported)


@pytest.mark.anyio
async def test_opening_an_unsupported_url_with_a_password_does_not_show_it() -> None:
    with pytest.raises(UnsupportedUrlError) as caught:
        async with Engine.open("mysql://app:hunter22@db/shop"):
            pass
    assert "hunter22" not in str(caught.value) and "mysql://app:***@db/shop" in str(caught.value)
