"""The service secret comes through Powertools' get_secret, cached per container for a maximum age."""

from __future__ import annotations

from outreach.config import Settings
from outreach.logic import auth


def test_the_service_secret_is_cached_for_its_max_age_then_read_again(stack, monkeypatch):
    secrets = stack.client("secretsmanager")
    cached = Settings(service_secret_arn=secrets.create_secret(Name="cached", SecretString="first")["ARN"])
    assert auth.service_secret(cached) == b"first"
    secrets.put_secret_value(SecretId=cached.service_secret_arn, SecretString="rotated")
    assert auth.service_secret(cached) == b"first"  # within its max age: no Secrets Manager call per request

    monkeypatch.setattr(auth, "SECRET_MAX_AGE_S", 0)  # every value expires at once: a rotation shows immediately
    expiring = Settings(service_secret_arn=secrets.create_secret(Name="expiring", SecretString="first")["ARN"])
    assert auth.service_secret(expiring) == b"first"
    secrets.put_secret_value(SecretId=expiring.service_secret_arn, SecretString="rotated")
    assert auth.service_secret(expiring) == b"rotated"
