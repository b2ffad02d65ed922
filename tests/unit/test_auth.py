"""API key hashing, the Bearer header, and run tokens scoped to one run."""

import base64
import json
import time

import jwt
import pytest

from outreach.errors import Forbidden, Unauthorized
from outreach.logic import auth
from outreach.logic.auth import TOKEN_AUDIENCE, TOKEN_ISSUER, bearer, check_run_token, hash_api_key, issue_run_token

SECRET = b"service-secret-one"
OTHER = b"service-secret-two"


# ----------------------------------------------------------------- API keys
def test_api_key_hash_is_keyed_and_deterministic():
    assert hash_api_key(SECRET, "key-a") == hash_api_key(SECRET, "key-a")
    assert hash_api_key(SECRET, "key-a") != hash_api_key(OTHER, "key-a")
    assert hash_api_key(SECRET, "key-a") != hash_api_key(SECRET, "key-b")


def test_api_key_hash_never_reveals_the_key():
    key = "sk_live_0123456789abcdef"
    digest = hash_api_key(SECRET, key)
    assert digest != key and key not in digest and "0123456789abcdef" not in digest
    assert len(digest) == 64


# ------------------------------------------------------------------- Bearer
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Content-Type": "application/json"},
        {"Authorization": ""},
        {"Authorization": "key-a"},
        {"Authorization": "Basic a2V5LWE="},
        {"Authorization": "Token key-a"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer    "},
        {"Authorization": "Bearer key a"},
    ],
)
def test_bearer_rejects_missing_or_malformed_header(headers):
    with pytest.raises(Unauthorized) as info:
        bearer(headers)
    assert info.value.status == 401
    assert info.value.body()["code"] == "unauthorized"
    assert info.value.body()["error"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer key-a"},
        {"authorization": "bearer key-a"},
        {"AUTHORIZATION": "BEARER key-a"},
        {"Authorization": "  Bearer   key-a  "},
    ],
)
def test_bearer_reads_the_token(headers):
    assert bearer(headers) == "key-a"


# --------------------------------------------------------------- run tokens
def test_valid_token_reads_its_run():
    token = issue_run_token(SECRET, "run_a", 60)
    assert check_run_token(SECRET, token, "run_a") is None


def test_token_is_short_lived_and_names_its_run():
    claims = jwt.decode(issue_run_token(SECRET, "run_a", 900), options={"verify_signature": False})
    assert claims["sub"] == "run_a" and claims["scope"] == "read:runs:run_a"
    assert 0 < claims["exp"] - claims["iat"] <= 900
    assert claims["aud"] == TOKEN_AUDIENCE and claims["iss"] == TOKEN_ISSUER


def test_expired_token_rejected():
    token = issue_run_token(SECRET, "run_a", -5)
    with pytest.raises(Unauthorized) as info:
        check_run_token(SECRET, token, "run_a")
    assert info.value.code == "token_expired"
    assert info.value.status == 401


def test_token_expires_after_its_ttl(monkeypatch):
    real = time.time
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: real() - 120)  # issued two minutes ago, for one minute
        token = issue_run_token(SECRET, "run_a", 60)
    with pytest.raises(Unauthorized) as info:
        check_run_token(SECRET, token, "run_a")
    assert info.value.code == "token_expired"


def _flip(segment: str, at: int) -> str:
    c = segment[at]
    return segment[:at] + ("A" if c != "A" else "B") + segment[at + 1:]


def test_tampered_signature_rejected():
    header, payload, signature = issue_run_token(SECRET, "run_a", 60).split(".")
    tampered = ".".join([header, payload, _flip(signature, len(signature) // 2)])
    with pytest.raises(Unauthorized) as info:
        check_run_token(SECRET, tampered, "run_a")
    assert info.value.code == "invalid_token"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_tampered_payload_rejected():
    header, payload, signature = issue_run_token(SECRET, "run_a", 60).split(".")
    claims = jwt.decode(issue_run_token(SECRET, "run_a", 60), options={"verify_signature": False})
    for forged in ({**claims, "sub": "run_b", "scope": "read:runs:run_b"}, {**claims, "exp": claims["exp"] + 86400}):
        tampered = ".".join([header, _b64(forged), signature])
        for run_id in ("run_a", "run_b"):
            with pytest.raises(Unauthorized) as info:
                check_run_token(SECRET, tampered, run_id)
            assert info.value.code == "invalid_token"


def test_token_of_another_run_forbidden():
    token = issue_run_token(SECRET, "run_a", 60)
    with pytest.raises(Forbidden) as info:
        check_run_token(SECRET, token, "run_b")
    assert info.value.status == 403


def test_token_signed_with_another_secret_rejected():
    token = issue_run_token(OTHER, "run_a", 60)
    with pytest.raises(Unauthorized) as info:
        check_run_token(SECRET, token, "run_a")
    assert info.value.code == "invalid_token"


@pytest.mark.parametrize("not_a_token", ["", "garbage", "a.b.c", "key-a"])
def test_garbage_rejected(not_a_token):
    with pytest.raises(Unauthorized):
        check_run_token(SECRET, not_a_token, "run_a")


def test_api_key_is_not_a_run_token():
    with pytest.raises(Unauthorized):
        check_run_token(SECRET, hash_api_key(SECRET, "key-a"), "run_a")


def _claims(run_id="run_a", **changes):
    now = int(time.time())
    claims = {"iss": TOKEN_ISSUER, "aud": TOKEN_AUDIENCE, "sub": run_id, "scope": f"read:runs:{run_id}",
              "iat": now, "exp": now + 60}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(claims, algorithm="HS256"):
    return jwt.encode(claims, auth._derived(SECRET, "run-token"), algorithm=algorithm)


def test_hand_made_token_with_all_claims_is_accepted():
    # the control for the cases below: the right key and claims pass
    check_run_token(SECRET, _signed(_claims()), "run_a")


@pytest.mark.parametrize(
    "changes",
    [
        {"scope": None},
        {"aud": None},
        {"iss": None},
        {"exp": None},
        {"sub": None},
        {"aud": "someone-else"},
        {"iss": "someone-else"},
    ],
)
def test_right_key_but_missing_or_wrong_claims_rejected(changes):
    with pytest.raises(Unauthorized):
        check_run_token(SECRET, _signed(_claims(**changes)), "run_a")


def test_right_key_but_wrong_scope_forbidden():
    with pytest.raises(Forbidden):
        check_run_token(SECRET, _signed(_claims(scope="read:runs:*")), "run_a")


def test_unsigned_token_rejected():
    token = jwt.encode(_claims(), key=None, algorithm="none")
    with pytest.raises(Unauthorized):
        check_run_token(SECRET, token, "run_a")


def test_token_signed_with_the_api_key_hash_key_rejected():
    token = jwt.encode(_claims(), auth._derived(SECRET, "api-key-hash"), algorithm="HS256")
    with pytest.raises(Unauthorized):
        check_run_token(SECRET, token, "run_a")
