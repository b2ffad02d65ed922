"""API keys (stored as keyed hashes) and run tokens (short-lived JWTs scoped to one run)."""

from __future__ import annotations

import hashlib
import hmac
import time

from outreach.config import Settings
from outreach.errors import Forbidden, Unauthorized

TOKEN_AUDIENCE = "outreach:runs"
TOKEN_ISSUER = "outreach"
# Secrets Manager is asked again after this long, so a rotated service secret reaches warm containers.
SECRET_MAX_AGE_S = 300


def service_secret(settings: Settings) -> bytes:
    """The one secret the service keys its hashes and tokens with (Secrets Manager on AWS and locally).

    Powertools' ``get_secret`` caches it per container for ``SECRET_MAX_AGE_S``.
    """
    arn = settings.service_secret_arn
    if not arn:
        raise RuntimeError("SERVICE_SECRET_ARN is not set")
    from aws_lambda_powertools.utilities.parameters import get_secret  # loaded by the routes that need it

    return str(get_secret(arn, max_age=SECRET_MAX_AGE_S)).encode()


def _derived(secret: bytes, purpose: str) -> bytes:
    # Separate keys per use: a leaked token key says nothing about API key hashes.
    return hmac.new(secret, purpose.encode(), hashlib.sha256).digest()


def hash_api_key(secret: bytes, api_key: str) -> str:
    return hmac.new(_derived(secret, "api-key-hash"), api_key.encode(), hashlib.sha256).hexdigest()


def bearer(headers: dict[str, str]) -> str:
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "") or ""
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthorized("Send 'Authorization: Bearer <api key>'.", code="unauthorized")
    return token


def issue_run_token(secret: bytes, run_id: str, ttl_s: int) -> str:
    import jwt  # only the routes that make or read run tokens pay for PyJWT's import

    now = int(time.time())
    claims = {
        "iss": TOKEN_ISSUER,
        "aud": TOKEN_AUDIENCE,
        "sub": run_id,
        "scope": f"read:runs:{run_id}",
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(claims, _derived(secret, "run-token"), algorithm="HS256")


def check_run_token(secret: bytes, token: str, run_id: str) -> None:
    """401 for a token that is not ours, expired or tampered with; 403 for a good token of another run."""
    import jwt

    try:
        claims = jwt.decode(
            token,
            _derived(secret, "run-token"),
            algorithms=["HS256"],
            audience=TOKEN_AUDIENCE,
            issuer=TOKEN_ISSUER,
            options={"require": ["exp", "iat", "sub", "scope", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The run token has expired. Dispatch again for a new one.", code="token_expired") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("The run token is not valid.", code="invalid_token") from None
    if claims.get("scope") != f"read:runs:{run_id}" or claims.get("sub") != run_id:
        raise Forbidden("This token reads another run.", code="token_scope")
