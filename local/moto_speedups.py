"""Work moto repeats on every call that gives the same answer every time: done once, same results.

Found with py-spy on a 100-lead run (bench/profile.py; figures in bench/PROFILE.md):
- the Step Functions interpreter parses each JSONPath (InputPath, ResultPath, Parameters' "$.x")
  on every evaluation, and jsonpath_ng builds a whole yacc parser for each parse: about 7% of the CPU.
  Parsed paths are immutable: parse each path string once.
- every request looks up the handler's method names with inspect.getmembers (2% of the CPU); a handler
  class does not change its methods while the stack runs.
- every UpdateItem parses its UpdateExpression twice (request layer and backend), and the store sends the same
  few expression strings again and again. The tree is only read (find_clauses) or deep-copied before it is
  validated and executed (moto's Validator copies it first), so one parsed tree per string serves every call.
- moto's expression validators walk the update's tree once per check (ten walks), and at every node rebuild
  each check's dict of node types and handlers to ask whether the node is one they handle: the dict is the
  same for the whole walk. The walk here asks once per walk; nodes are visited and handled in the same order.
"""

from __future__ import annotations

import functools


def _cache_update_expression_trees() -> None:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    if getattr(UpdateExpressionParser.make, "cache_info", None) is None:
        cached = functools.lru_cache(maxsize=4096)(UpdateExpressionParser.make)
        cached.moto_original = UpdateExpressionParser.__dict__["make"]  # for the test that compares both
        UpdateExpressionParser.make = staticmethod(cached)


def _walk_once_per_processing_map() -> None:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node

    if getattr(DepthFirstTraverser, "_outreach_fast_walk", False):
        return
    default_pre = DepthFirstTraverser.pre_processing_of_child

    def traverse(self, node):
        processing = self._processing_map()
        handled = tuple(processing)
        pre = self.pre_processing_of_child if type(self).pre_processing_of_child is not default_pre else None

        def walk(node, child_id):
            # DepthFirstTraverser.traverse_node_recursively, with the processing map read once per walk
            if isinstance(node, Node):
                parent_node = node.parent
                if node.children is not None:
                    for i, child_node in enumerate(node.children):
                        if pre is not None:
                            pre(node, i)
                        walk(child_node, i)
                if isinstance(node, handled):
                    for class_key, processor in processing.items():  # DepthFirstTraverser.process
                        if isinstance(node, class_key):
                            node = processor(node)
                            break
                    else:
                        node = None
                    node.parent = parent_node
                    if parent_node:
                        parent_node.children[child_id] = node
            return node

        return walk(node, -1)

    traverse.moto_original = DepthFirstTraverser.traverse  # for the test that compares both
    DepthFirstTraverser.traverse = traverse
    DepthFirstTraverser._outreach_fast_walk = True


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
    _cache_update_expression_trees()
    _walk_once_per_processing_map()
