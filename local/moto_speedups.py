"""Work moto repeats on every call that gives the same answer every time: done once, same results.

Found with py-spy on a 100-lead run (bench/profile.py; figures in bench/RESULTS.md):
- the Step Functions interpreter parses each JSONPath (InputPath, ResultPath, Parameters' "$.x")
  on every evaluation, and jsonpath_ng builds a whole yacc parser for each parse: about 7% of the CPU.
  Parsed paths are immutable: parse each path string once.
- every request looks up the handler's method names with inspect.getmembers (2% of the CPU); a handler
  class does not change its methods while the stack runs.
"""

from __future__ import annotations

import functools


def install() -> None:
    from moto.core import responses as core_responses
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    if getattr(json_path.parse, "cache_info", None) is None:
        json_path.parse = functools.lru_cache(maxsize=4096)(json_path.parse)
    if getattr(result_path.parse, "cache_info", None) is None:
        result_path.parse = functools.lru_cache(maxsize=4096)(result_path.parse)
    if getattr(core_responses.method_names_from_class, "cache_info", None) is None:
        method_names = functools.lru_cache(maxsize=256)(core_responses.method_names_from_class)
        core_responses.method_names_from_class = lambda clazz: list(method_names(clazz))
        core_responses.method_names_from_class.cache_info = method_names.cache_info
