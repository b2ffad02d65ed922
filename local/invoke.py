"""`make invoke`: run one function on one event, as `sam local invoke` would, without docker.

    python -m local.invoke [FunctionLogicalId] events/<file>.json

The function is the one template.yaml declares (its CodeUri and Handler, the
layer, its Environment with every !Ref resolved) and it runs against the local
stack's state: the table is restored from the state dir (`.local/`, or
LOCAL_STATE_DIR) and saved back afterwards. Executions the invoke starts are
run to their end before it exits. Without a function id, events/functions.json
names the function for the file. The result is printed as JSON.

Stop `make serve` first: both would write the same state file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from local.cfn import ROOT

EVENTS = ROOT / "events"
MAPPING = EVENTS / "functions.json"


def function_for(event_file: Path) -> str | None:
    """The function events/functions.json names for an event file (None: the file is no function's input)."""
    mapping = json.loads(MAPPING.read_text())
    if event_file.name not in mapping:
        raise KeyError(f"{event_file.name} is not in {MAPPING.relative_to(ROOT)}: add it with its function")
    return mapping[event_file.name]


def invoke_file(stack, event_file: Path, function: str | None = None) -> Any:
    function = function or function_for(event_file)
    if function is None:
        raise ValueError(f"{event_file.name} is sample data, not a function's event")
    if function not in stack.functions:
        raise KeyError(f"no function {function!r} in template.yaml; there are: {', '.join(sorted(stack.functions))}")
    return stack.invoke(function, json.loads(event_file.read_text()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.invoke", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "args", nargs="+", metavar="[FUNCTION] EVENT", help="function logical id (optional) and event file"
    )
    args = parser.parse_args(argv).args
    if len(args) > 2:
        parser.error("at most a function id and an event file")
    function, event_file = (args[0], Path(args[1])) if len(args) == 2 else (None, Path(args[0]))
    if not event_file.is_file():
        parser.error(f"no event file {event_file}")
    from local.stack import LocalStack

    stack = LocalStack(persist=True).start()
    try:
        result = invoke_file(stack, event_file, function or None)
    except (KeyError, ValueError) as error:
        print(str(error).strip("'\""), file=sys.stderr)
        return 2
    finally:
        stack.stop()
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
