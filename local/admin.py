"""Operator tasks for the event-driven paths: print a workspace's webhook signing secret.

    python -m local.admin webhook-secret --workspace acme                                # the local stack
    python -m local.admin webhook-secret --workspace acme --secret <ServiceSecretArn>    # a deployed stack

The secret (``whsec_...``) is derived from the service secret, so nothing is
stored and rotating the service secret rotates every workspace's. Hand it to
that workspace's webhook receiver only. (API keys: ``python -m ops.keys``.)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from local.cfn import ROOT

sys.path.insert(0, str(ROOT / "layers" / "shared"))


def webhook_secret(workspace: str, secret_arn: str | None, region: str | None, state_dir: str | None) -> str:
    """The workspace's signing secret, from the service secret (Secrets Manager, or the local stack's)."""
    from outreach.logic.webhooks import signing_secret

    if secret_arn:
        import boto3

        client = boto3.session.Session(region_name=region).client("secretsmanager")
        service_secret = client.get_secret_value(SecretId=secret_arn)["SecretString"].encode()
    else:
        path = Path(state_dir or os.environ.get("LOCAL_STATE_DIR") or ROOT / ".local") / "service_secret"
        if not path.exists():
            raise SystemExit(f"{path} does not exist yet: start the local stack once (make serve)")
        service_secret = path.read_text().strip().encode()
    return signing_secret(service_secret, workspace)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.admin")
    commands = parser.add_subparsers(dest="command", required=True)
    signing = commands.add_parser("webhook-secret", help="print a workspace's webhook signing secret (whsec_...)")
    signing.add_argument("--workspace", required=True)
    signing.add_argument("--secret", help="the ServiceSecretArn output of a deployed stack (else: the local stack's)")
    signing.add_argument("--region")
    signing.add_argument("--state-dir", help="the local stack's state dir (default .local, or LOCAL_STATE_DIR)")
    args = parser.parse_args(argv)
    print(webhook_secret(args.workspace, args.secret, args.region, args.state_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
