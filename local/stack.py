"""The whole service on one machine: moto's DynamoDB, Secrets Manager and Step Functions (executing
the real ASL files), with every Lambda run in-process from template.yaml.

Nothing here restates the template: the table, functions, environments, state
machines and their DefinitionSubstitutions are all read from it.
"""

from __future__ import annotations

import gc
import importlib.util
import io
import json
import logging
import os
import secrets
import sys
import threading
import time
import traceback
import uuid
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local import (
    cold_items,
    dynamodb_answers,
    dynamodb_in_process,
    dynamodb_queries,
    execution_starts,
    lambda_in_process,
    moto_speedups,
)
from local.bus import create_buses_and_rules, create_queues
from local.cfn import ROOT, Resolver, function_environment, load_template, parameter_defaults, resources_of_type
from local.concurrency import make_resolver_thread_safe
from local.dynamodb_writes import attach_store, holding_the_table
from local.dynamodb_writes import install as serialize_dynamodb_requests
from local.eventbridge import ExecutionStatusWatcher
from local.limits import Limits
from local.limits import install as install_limits
from local.persistence import DATABASE_FILE, LEGACY_SNAPSHOT_FILE, TableStore
from local.queues import QueuePollers
from local.ttl import TimeToLive, sweep_interval_s

sys.path.insert(0, str(ROOT / "layers" / "shared"))

REGION = "us-east-1"
ACCOUNT = "123456789012"
DEFAULT_API_KEYS = "local:local-dev-key"
# Contract variables that a local run may set to override the template's defaults.
LOCAL_OVERRIDES = ("LLM_PROVIDER", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL", "RUN_TIMEOUT_S",
                   "LLM_TIMEOUT_S", "LLM_MAX_RETRIES", "CHAT_LLM_TIMEOUT_S", "OPENAI_PROMPT_CACHE_KEY",
                   "OPENAI_API_STYLE", "RUN_TOKEN_TTL_S", "WORKSPACE_LLM_CONCURRENCY", "WEBHOOK_ALLOW_LOOPBACK",
                   "TRIGGER_RETRY_BASE_S", "WEBHOOK_RETRY_BASE_S")
# Where the local engine cannot do what AWS does, and what it does instead.
LOCAL_SUBSTITUTIONS = {
    "LeadExecutionType": "STANDARD",  # moto runs a Distributed Map's children only as Standard workflows
}


@dataclass
class LambdaContext:
    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class LocalFunction:
    logical_id: str
    handler: Callable[[Any, Any], Any]
    environment: dict[str, str]
    arn: str
    memory: int
    timeout: int


def _skip_moto_backend_lock() -> None:
    """moto takes a global lock and scans a list on every backend lookup; with a hundred Map iterations
    in flight that lock is the bottleneck. Once an account's backend exists there is nothing to do."""
    from moto.core.base_backend import BackendDict

    if getattr(BackendDict, "_outreach_fast", False):
        return
    create = BackendDict._create_account_specific_backend

    def existing_or_create(self, account_id: str) -> None:
        if dict.__contains__(self, account_id) and self in BackendDict._instances:
            return
        create(self, account_id)

    BackendDict._create_account_specific_backend = existing_or_create
    BackendDict._outreach_fast = True


def _reuse_state_machine_clients() -> None:
    """moto's state machines build a new boto3 client for every Task (tens of ms of CPU each). Clients
    are thread-safe once built: build one per service and region."""
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for
    if getattr(original, "_outreach_cached", False):
        return
    cache: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def cached(region: str, service: str, state_credentials: Any = None):
        with lock:
            if (region, service) not in cache:
                cache[(region, service)] = original(region=region, service=service, state_credentials=state_credentials)
            return cache[(region, service)]

    cached._outreach_cached = True
    boto_client.boto_client_for = cached
    for module in list(sys.modules.values()):  # modules that imported it by name before this patch
        if getattr(module, "boto_client_for", None) is original:
            module.boto_client_for = cached


def _load_handler(logical_id: str, code_uri: str, handler: str) -> Callable:
    module_file, _, function = handler.rpartition(".")
    path = ROOT / code_uri / f"{module_file.replace('.', '/')}.py"
    # Every function's module is app.py: load each under its own name.
    spec = importlib.util.spec_from_file_location(f"functions_{logical_id}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return getattr(module, function)


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "# runs in-process in the local stack\n")
    return buffer.getvalue()


class LocalStack:
    def __init__(self, state_dir: Path | None = None, env: Mapping[str, str] | None = None, *, persist: bool = False):
        self.env = dict(os.environ if env is None else env)
        self.state_dir = Path(state_dir or self.env.get("LOCAL_STATE_DIR") or ROOT / ".local")
        self.template = load_template()
        self.functions: dict[str, LocalFunction] = {}
        self.state_machines: dict[str, str] = {}
        self.table_name = ""
        self.api_keys = self.env.get("LOCAL_API_KEYS") or DEFAULT_API_KEYS
        # Tests inject faults here: called before every Lambda invoke with (logical id, event).
        self.before_invoke: Callable[[str, Any], None] | None = None
        self._mock = None
        self.persist = persist  # keep the table in <state dir>/dynamodb.sqlite3 across restarts and crashes
        self.table_store: TableStore | None = None
        self.restored = 0
        self.watcher: ExecutionStatusWatcher | None = None
        self.queues: QueuePollers | None = None
        self.ttl: TimeToLive | None = None
        self.ttl_sweep_s = sweep_interval_s(self.env)  # a bad value stops the start here, naming the variable
        self.live_items = cold_items.live_items_setting(self.env)  # likewise
        self.limits = Limits.from_env(self.env)  # AWS's time and size limits (LOCAL_TIME_SCALE shortens the times)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> LocalStack:
        for name, value in (("AWS_ACCESS_KEY_ID", "local"), ("AWS_SECRET_ACCESS_KEY", "local"),
                            ("AWS_DEFAULT_REGION", REGION), ("AWS_REGION", REGION)):
            os.environ[name] = value
        os.environ.pop("AWS_ENDPOINT_URL", None)
        os.environ.pop("AWS_PROFILE", None)
        # No X-Ray daemon or CloudWatch here: traces off, metrics off (they are EMF on AWS).
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", self.env.get("LOG_LEVEL", "WARNING"))
        # Loggers read their service name when the handler module loads, before any per-invoke environment.
        globals_env = self.template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        os.environ.setdefault("POWERTOOLS_SERVICE_NAME", str(globals_env.get("POWERTOOLS_SERVICE_NAME", "outreach")))

        warnings.filterwarnings("ignore", message="No application metrics to publish")
        # moto logs whole state-machine trees on every task error: keep that for LOG_LEVEL=DEBUG.
        if self.env.get("LOG_LEVEL", "").upper() != "DEBUG":
            logging.getLogger("moto").setLevel(logging.CRITICAL)
        from moto import mock_aws

        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        serialize_dynamodb_requests()
        dynamodb_answers.install()
        dynamodb_in_process.install()
        execution_starts.install()
        lambda_in_process.install()
        moto_speedups.install()
        dynamodb_queries.install()
        _skip_moto_backend_lock()
        _reuse_state_machine_clients()
        make_resolver_thread_safe()
        self._route_lambda_invokes()
        install_limits(self.limits)

        import boto3

        self.boto = boto3.session.Session(region_name=REGION)
        physical: dict[str, dict[str, str]] = {}
        self._create_secrets(physical)
        self._create_table(physical)
        self._create_functions(physical)
        self.resolver = Resolver(self.template, physical, self._parameters())
        create_queues(self, physical)  # the event bus, its rules and queues (local/bus.py)
        create_buses_and_rules(self, physical)
        self._create_state_machines(physical)
        from outreach.config import Settings

        for logical_id, fn in self.functions.items():
            raw = function_environment(self.template, logical_id)
            fn.environment = {k: str(v) for k, v in self.resolver.resolve(raw).items()}
            fn.environment.update(self._overrides())
            # A bad value fails the start, naming the variable, as it fails a cold start on AWS.
            Settings.from_environment({**os.environ, **fn.environment})
        if self.persist:
            self._open_table_store()
            self._release_orphaned_claims()
        self._seed_api_keys()
        # moto holds every table, execution and its history in this process: full collections walk
        # all of it and paused runs for seconds. Freeze what start-up built; collect young objects less often.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 50, 100)
        self.watcher = ExecutionStatusWatcher(self)
        self.watcher.start()
        self.queues = QueuePollers(self)  # the SQS event sources: trigger, webhook delivery (local/queues.py)
        self.queues.start()
        self.ttl = TimeToLive(self, interval_s=self.ttl_sweep_s)  # DynamoDB's TTL deletes (local/ttl.py)
        self.ttl.start()
        return self

    def stop(self, drain_s: float = 15.0) -> None:
        """Stop, after letting running executions finish (they would otherwise hit real AWS endpoints)."""
        if self._mock is not None:
            if self.queues is not None:
                self.queues.stop()
            if self.ttl is not None:
                self.ttl.stop()
            self.drain(drain_s)
            if self.watcher is not None:
                self.watcher.stop()
                self.watcher.poll()  # deliver what ended during the drain
            self._close_table_store()
            self._mock.stop()
            self._mock = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------- resources
    def _parameters(self) -> dict[str, str]:
        params = parameter_defaults(self.template)
        params["LlmProvider"] = self.llm_provider
        if self.env.get("OPENAI_MODEL"):
            params["OpenAIModel"] = self.env["OPENAI_MODEL"]
        if self.env.get("OPENAI_BASE_URL"):
            params["OpenAIBaseUrl"] = self.env["OPENAI_BASE_URL"]
        if self.env.get("RUN_TIMEOUT_S"):
            params["RunTimeoutSeconds"] = self.env["RUN_TIMEOUT_S"]
        if self.env.get("LEAD_CONCURRENCY"):
            params["LeadConcurrency"] = self.env["LEAD_CONCURRENCY"]
        return params

    @property
    def llm_provider(self) -> str:
        wants_openai = self.env.get("OPENAI_API_KEY") or self.env.get("OPENAI_BASE_URL")
        return self.env.get("LLM_PROVIDER") or ("openai" if wants_openai else "offline")

    def _overrides(self) -> dict[str, str]:
        out = {k: self.env[k] for k in LOCAL_OVERRIDES if self.env.get(k)}
        out["LLM_PROVIDER"] = self.llm_provider
        return out

    def _service_secret(self) -> str:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.state_dir / "service_secret"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    def _create_secrets(self, physical: dict) -> None:
        client = self.boto.client("secretsmanager")
        for logical_id in resources_of_type(self.template, "AWS::SecretsManager::Secret"):
            if logical_id == "ServiceSecret":
                value = self._service_secret()
            else:
                value = self.env.get("OPENAI_API_KEY") or "not-set"
            arn = client.create_secret(Name=f"outreach-local/{logical_id}", SecretString=value)["ARN"]
            physical[logical_id] = {"Ref": arn, "Arn": arn}

    def _create_table(self, physical: dict) -> None:
        ((logical_id, resource),) = resources_of_type(self.template, "AWS::DynamoDB::Table").items()
        props = resource["Properties"]
        self.table_name = f"outreach-local-{logical_id}"
        client = self.boto.client("dynamodb")
        kwargs = {
            "TableName": self.table_name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        arn = client.create_table(**kwargs)["TableDescription"]["TableArn"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            client.update_time_to_live(TableName=self.table_name, TimeToLiveSpecification=ttl)
        physical[logical_id] = {"Ref": self.table_name, "Arn": arn, "StreamArn": f"{arn}/stream/local"}
        cold_items.install(self._moto_table(), self.live_items)  # items not used lately held as text

    def _moto_table(self):
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[ACCOUNT][REGION].get_table(self.table_name)

    def _create_functions(self, physical: dict) -> None:
        iam = self.boto.client("iam")
        role = iam.create_role(RoleName="outreach-local", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam = self.boto.client("lambda")
        globals_fn = self.template.get("Globals", {}).get("Function", {})
        for logical_id, resource in resources_of_type(self.template, "AWS::Serverless::Function").items():
            props = {**globals_fn, **resource["Properties"]}
            arn = lam.create_function(
                FunctionName=logical_id,
                Runtime=props.get("Runtime", "python3.12"),
                Role=role,
                Handler=props["Handler"],
                Code={"ZipFile": _dummy_zip()},
                Timeout=int(props.get("Timeout", 3)),
                MemorySize=int(props.get("MemorySize", 128)),
            )["FunctionArn"]
            self.functions[logical_id] = LocalFunction(
                logical_id=logical_id,
                handler=_load_handler(logical_id, props["CodeUri"], props["Handler"]),
                environment={},
                arn=arn,
                memory=int(props.get("MemorySize", 128)),
                timeout=int(props.get("Timeout", 3)),
            )
            physical[logical_id] = {"Ref": logical_id, "Arn": arn}
        for logical_id in resources_of_type(self.template, "AWS::Serverless::HttpApi"):
            physical[logical_id] = {"Ref": "local"}

    def _create_state_machines(self, physical: dict) -> None:
        sfn = self.boto.client("stepfunctions")
        for logical_id, resource in resources_of_type(self.template, "AWS::Serverless::StateMachine").items():
            props = resource["Properties"]
            definition = (ROOT / props["DefinitionUri"]).read_text()
            substitutions = self.resolver.resolve(props.get("DefinitionSubstitutions", {}))
            substitutions.update({k: v for k, v in LOCAL_SUBSTITUTIONS.items() if k in substitutions})
            for name, value in substitutions.items():
                definition = definition.replace(f"${{{name}}}", str(value))
            arn = sfn.create_state_machine(
                name=logical_id,
                definition=definition,
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/outreach-local",
                type=props.get("Type", "STANDARD"),
            )["stateMachineArn"]
            self.state_machines[logical_id] = arn
            physical[logical_id] = {"Ref": arn, "Arn": arn, "Name": logical_id}

    def _open_table_store(self) -> None:
        """Load the table from SQLite (importing an old JSON snapshot once); from now on every write goes through."""
        table = self._moto_table()
        synchronous = self.env.get("LOCAL_SQLITE_SYNCHRONOUS", "NORMAL")
        self.table_store = TableStore(self.state_dir / DATABASE_FILE, synchronous)
        self.restored = self.table_store.load(table)
        self.restored += self.table_store.migrate_snapshot(self.state_dir / LEGACY_SNAPSHOT_FILE, table)
        dynamodb_queries.forget(table)  # loaded behind the write hooks: index map rebuilt on first use
        cold_items.settle()  # an old snapshot's items were imported live
        attach_store(self.table_store)

    def _close_table_store(self) -> None:
        if self.table_store is not None:
            attach_store(None)
            self.table_store.close()
            self.table_store = None

    def _release_orphaned_claims(self) -> None:
        """Runs that were in flight when the stack went down cannot finish: fail them and free their sessions."""
        from outreach import runtime
        from outreach.config import function_environment as env_scope
        from outreach.logic.workers import fail_and_release

        # Read in place, not by Scan: moto's Scan builds every item of the table for each 1 MB page.
        with holding_the_table():
            items = cold_items.each_item(self._moto_table())
        run_ids = [value.value for _, _, held in items
                   if (value := cold_items.attributes(held, ("task_run_id",)).get("task_run_id")) is not None
                   and value.type == "S"]
        with env_scope(self.functions["ReleaseFunction"].environment):
            runtime.reset()
            for run_id in run_ids:
                fail_and_release(runtime.store(), run_id, "The local stack stopped during this run.")

    def _seed_api_keys(self) -> None:
        from outreach import runtime
        from outreach.clock import now_iso
        from outreach.config import function_environment as env_scope
        from outreach.logic.auth import hash_api_key, service_secret

        api = self.functions["ApiFunction"]
        with env_scope(api.environment):
            runtime.reset()
            store, secret = runtime.store(), service_secret(runtime.settings())
            for pair in filter(None, (p.strip() for p in self.api_keys.split(","))):
                workspace, sep, key = pair.partition(":")
                if not sep or not workspace or not key:
                    raise ValueError("LOCAL_API_KEYS is 'workspace:key,workspace:key'")
                store.put_api_key(hash_api_key(secret, key), workspace, now_iso())

    # ------------------------------------------------------------- invokes
    def _route_lambda_invokes(self) -> None:
        from moto.awslambda.models import LambdaFunction

        stack = self

        def invoke_in_process(function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
            if isinstance(event, str):
                event = json.loads(event or "{}")
            try:
                result = stack.invoke(function.function_name, event)
            except Exception as error:  # what Lambda reports, so Retry/Catch see the error's type
                detail = {"errorType": getattr(error, "error_type", type(error).__name__), "errorMessage": str(error)}
                return json.dumps(detail), True, traceback.format_exc()
            return json.dumps(result), False, ""

        LambdaFunction._invoke_lambda = invoke_in_process

    def invoke(self, logical_id: str, event: Any) -> Any:
        from outreach.config import function_environment as env_scope

        fn = self.functions[logical_id]
        context = LambdaContext(logical_id, fn.arn, fn.memory, self.limits.seconds(fn.timeout), str(uuid.uuid4()))

        def handle() -> Any:
            if self.before_invoke is not None:  # inside the timed call: an injected stall counts against the timeout
                self.before_invoke(logical_id, event)
            with env_scope(fn.environment):
                return fn.handler(event, context)

        return self.limits.invoke(logical_id, fn.timeout, context.aws_request_id, handle)

    def invoke_api(self, event: dict) -> dict:
        return self.invoke("ApiFunction", event)

    def drain(self, timeout_s: float) -> bool:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            running = [
                e
                for arn in self.state_machines.values()
                for e in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
            ]
            if not running:
                return True
            time.sleep(0.05)
        return False

    # -------------------------------------------------------------- helpers
    def client(self, service: str):
        return self.boto.client(service)
