"""API keys on a deployed stack: create one for a workspace.

    python -m ops.keys create-key --workspace acme --table <TableName output> --secret <ServiceSecretArn output>

The key is printed once and stored only as a keyed hash (HMAC with the
service secret), exactly as the API function checks it.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "shared"))


def create_key(workspace: str, table: str, secret_arn: str, region: str | None) -> str:
    import boto3

    from outreach.clock import now_iso
    from outreach.dal.dynamodb import RETRY_CONFIG, DynamoDBStore
    from outreach.logic.auth import hash_api_key

    session = boto3.session.Session(region_name=region)
    secret = session.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"].encode()
    store = DynamoDBStore(table, resource=session.resource("dynamodb", config=RETRY_CONFIG))
    key = f"ok_{secrets.token_urlsafe(32)}"
    store.put_api_key(hash_api_key(secret, key), workspace, now_iso())
    return key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.keys")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="create an API key for a workspace (printed once)")
    create.add_argument("--workspace", required=True)
    create.add_argument("--table", required=True, help="the stack's TableName output")
    create.add_argument("--secret", required=True, help="the stack's ServiceSecretArn output")
    create.add_argument("--region")
    args = parser.parse_args(argv)
    key = create_key(args.workspace, args.table, args.secret, args.region)
    print(key)
    print(f"API key for workspace {args.workspace!r}: shown once, stored hashed.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
