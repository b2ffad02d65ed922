"""How the store reads AWS's transaction errors (shapes moto does not produce), via botocore's Stubber."""

import boto3
import pytest
from botocore.stub import ANY, Stubber

from outreach.dal.dynamodb import DynamoDBStore
from outreach.errors import ClaimLost, ItemTooLarge, RunAlreadyFinished, StoreThrottled


def store_with(reasons):
    resource = boto3.resource("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    store = DynamoDBStore("t", resource=resource)
    stub = Stubber(resource.meta.client)
    stub.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        service_message="Transaction cancelled",
        expected_params={"TransactItems": ANY},
        modeled_fields={"CancellationReasons": [{"Code": c} for c in reasons]},
    )
    stub.activate()
    return store


@pytest.mark.parametrize(
    ("reasons", "error"),
    [
        (["None", "ValidationError"], ItemTooLarge),  # AWS: the session item would pass 400 KB
        (["ValidationError", "None"], ItemTooLarge),
        (["ConditionalCheckFailed", "None"], ClaimLost),  # another run holds the session, or it is gone
        (["None", "ConditionalCheckFailed"], RunAlreadyFinished),  # an earlier aggregate finished the run
        (["None", "None", "ConditionalCheckFailed"], ClaimLost),  # a message of that number exists already
        (["ThrottlingError", "None"], StoreThrottled),  # transient: the step is retried
    ],
)
def test_transaction_cancellations_map_to_what_happened(reasons, error):
    with pytest.raises(error):
        store_with(reasons).finish_run_with_session("run_1", "s1", {"updated_at": "t"}, {"status": "COMPLETED"})
