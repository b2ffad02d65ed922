"""How the store reads AWS's transaction errors (shapes moto does not produce), via botocore's Stubber."""

import boto3
import pytest
from botocore.stub import ANY, Stubber

from outreach.dal.dynamodb import DynamoDBSessionStore, ItemTooLarge, RunAlreadyFinished
from outreach.errors import ClaimLost


def store_with(reasons):
    client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        service_message="Transaction cancelled",
        expected_params={"TransactItems": ANY},
        modeled_fields={"CancellationReasons": [{"Code": c} for c in reasons]},
    )
    stub.activate()
    resource = boto3.resource("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return DynamoDBSessionStore("t", client=client, resource=resource)


@pytest.mark.parametrize(
    ("reasons", "error"),
    [
        (["None", "ValidationError"], ItemTooLarge),  # AWS: the session item would pass 400 KB
        (["ValidationError", "None"], ItemTooLarge),
        (["ConditionalCheckFailed", "None"], ClaimLost),  # another run holds the session, or it is gone
        (["None", "ConditionalCheckFailed"], RunAlreadyFinished),  # an earlier aggregate finished the run
    ],
)
def test_transaction_cancellations_map_to_what_happened(reasons, error):
    with pytest.raises(error):
        store_with(reasons).finish_run_with_session("run_1", "s1", {"updated_at": "t"}, {"status": "COMPLETED"})
