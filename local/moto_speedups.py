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
- every conditional write lexes its ConditionExpression with a dozen regular expressions per token (a third of
  a lease write). The tokens depend on the string alone and are immutable tuples: lexed once per string; each
  parse still gets its own queue of them, and resolves names and values as before.
- moto's expression validators walk the update's tree once per check (ten walks), and at every node rebuild
  each check's dict of node types and handlers to ask whether the node is one they handle: the dict is the
  same for the whole walk. The walk here asks once per walk and node type; nodes are visited and handled in the
  same order.
- one of those checks (at most one SET, REMOVE, ADD section) runs at every node of the update's tree and
  searches the node's whole subtree three times: a list of n SET actions is a chain n deep, so n² node visits.
  Here each node's three counts are summed from its children's, once per validation: the same counts, the same
  error at the same node.
- each validation deep-copies the update's tree through copy's generic reduce protocol (a third of a
  record's write): a tree node copies itself here, attribute by attribute, into the same deep copy; and a tree
  parsed once per string (above) is pickled once, so each validation's copy is one pickle.loads (the same
  objects and attributes that deepcopy makes, built in C).
- the tree's node classes are ABCs, so every isinstance on a node (thousands per update) runs ABCMeta's
  Python-level check. No class registers a virtual subclass, so the check is plain class inheritance:
  type's own check, in C, gives the same answers.
- an item's size (checked on every write for the 400 KB limit, and on every read for the 1 MB and 16 MB page
  limits) wraps each map value in a new DynamoType, which wraps its whole subtree again: a run item's roster
  of 100 leads is re-wrapped at every level, 40% of a worker's read of its run. The size here is summed over
  the values as they are: the same byte counts, by the same rules, without the copies.
- every UpdateItem deep-copies the item twice (moto's request layer, for ReturnValues, and its backend) through
  copy.deepcopy, whose memo and dispatch cost more than the copy itself: the workspace's lease item of 100
  leases is 200 values. An item or value copies its tree here directly: the same types and values, each
  container new (DynamoDB values hold no cycles, so the memo has nothing to find). Likewise an item's JSON
  (for every write-through to SQLite and every ReturnValues) deep-copied each nested value once per level
  above it: each level is converted once here, into the same plain JSON.
- every item moto builds (each write, and each item loaded at start-up) checks its 400 KB limit once per
  attribute, re-measuring every attribute set so far: n² for n attributes. Here the size is summed once, when
  all are set: the sum only grows, so it passes the limit exactly when one of moto's partial sums would, and
  the same ItemSizeTooLarge is raised. Attribute names and type tags are interned as items are built: every
  item of a kind repeats the same names, and a copy of each per item was a fifth of the table's memory.
- each answer's items are converted to plain dicts by a function that asks five questions of every string
  and number; here DynamoType values and plain leaves take the first answer that applies (the same output).
- every Step Functions execution parses its state machine's definition with ANTLR (23 ms for
  generate-examples, a run's largest single cost before its first lead). The parse tree depends on the
  definition alone and the preprocessor only reads it: one tree per definition, and each execution still
  builds its own evaluation components from it (they hold per-execution state), as moto does.
"""

from __future__ import annotations

import abc
import base64
import copy
import functools
import pickle

_ATOMIC = (str, int, float, bool, type(None))


_PICKLED_TREES: dict[int, tuple[object, bytes]] = {}  # id(parsed tree) -> (the tree, kept alive; its pickle)


def _cache_update_expression_trees() -> None:
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    if getattr(UpdateExpressionParser.make, "cache_info", None) is not None:
        return
    make = UpdateExpressionParser.make

    @functools.lru_cache(maxsize=4096)
    def parsed_once(expression: str):
        tree = make(expression)
        if len(_PICKLED_TREES) >= 4096:
            _PICKLED_TREES.clear()
        _PICKLED_TREES[id(tree)] = (tree, pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL))
        return tree

    parsed_once.moto_original = UpdateExpressionParser.__dict__["make"]  # for the test that compares both
    UpdateExpressionParser.make = staticmethod(parsed_once)

    def copy_of(tree, memo=None):
        pickled = _PICKLED_TREES.get(id(tree))
        if pickled is not None and pickled[0] is tree and memo is None:
            return pickle.loads(pickled[1])
        return copy.deepcopy(tree, memo)

    copy_of.moto_original = copy.deepcopy
    validators.deepcopy = copy_of  # the Validator's copy of the tree it is given


def _walk_once_per_processing_map() -> None:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node

    if getattr(DepthFirstTraverser, "_outreach_fast_walk", False):
        return
    default_pre = DepthFirstTraverser.pre_processing_of_child

    def traverse(self, node):
        processing = self._processing_map()
        classes, processors = tuple(processing), tuple(processing.values())
        pre = self.pre_processing_of_child if type(self).pre_processing_of_child is not default_pre else None
        chosen: dict[type, object] = {}  # node type -> its processor, None (not processed) or False (not a Node)

        def processor_of(kind: type):
            # DepthFirstTraverser.process: the first class of the map the node is an instance of
            found = False if not issubclass(kind, Node) else next(
                (processor for cls, processor in zip(classes, processors, strict=True) if issubclass(kind, cls)),
                None)
            chosen[kind] = found
            return found

        def walk(node, child_id):
            # DepthFirstTraverser.traverse_node_recursively, with each node type's processor looked up once a walk
            kind = type(node)
            processor = chosen[kind] if kind in chosen else processor_of(kind)
            if processor is False:
                return node
            parent_node = node.parent
            if node.children is not None:
                for i, child_node in enumerate(node.children):
                    if pre is not None:
                        pre(node, i)
                    walk(child_node, i)
            if processor is not None:
                node = processor(node)
                node.parent = parent_node
                if parent_node:
                    parent_node.children[child_id] = node
            return node

        return walk(node, -1)

    traverse.moto_original = DepthFirstTraverser.traverse  # for the test that compares both
    DepthFirstTraverser.traverse = traverse
    DepthFirstTraverser._outreach_fast_walk = True


def _lex_condition_strings_once() -> None:
    from collections import deque

    from moto.dynamodb.comparisons import ConditionExpressionParser

    lex = ConditionExpressionParser._lex_condition_expression
    if getattr(lex, "_outreach_cached", False):
        return

    @functools.lru_cache(maxsize=4096)
    def tokens_of(expression: str) -> tuple:
        return tuple(lex(ConditionExpressionParser(expression, None, None)))

    def lex_once(self):
        return deque(tokens_of(self.condition_expression))

    lex_once._outreach_cached = True
    lex_once.moto_original = lex  # for the comparison test
    ConditionExpressionParser._lex_condition_expression = lex_once


def _count_clauses_once_per_node() -> None:
    from moto.dynamodb.exceptions import TooManyClauses
    from moto.dynamodb.parsing import ast_nodes as nodes
    from moto.dynamodb.parsing.validators import ActionCountValidator

    if getattr(ActionCountValidator, "_outreach_counted", False):
        return
    sections = (("ADD", nodes.UpdateExpressionAddClause), ("REMOVE", nodes.UpdateExpressionRemoveClause),
                ("SET", nodes.UpdateExpressionSetClause))
    searched = (nodes.Expression, nodes.UpdateExpressionFunction)  # the children Node.find_clauses descends into

    def counts(node, memo: dict) -> list[int]:
        """len(node.find_clauses([kind])) for each section kind."""
        found = memo.get(id(node))
        if found is None:
            found = [0] * len(sections)
            for child in node.children or []:
                below = counts(child, memo) if isinstance(child, searched) else None
                for i, (_, kind) in enumerate(sections):
                    if type(child) is kind:
                        found[i] += 1
                    elif below is not None:
                        found[i] += below[i]
            memo[id(node)] = found
        return found

    def verify_action_counts(self, node):
        memo = self.__dict__.setdefault("_outreach_counts", {})  # one validation: the tree's nodes stay alive
        for (name, _), count in zip(sections, counts(node, memo), strict=True):
            if count > 1:
                raise TooManyClauses(name)
        return node

    verify_action_counts.moto_original = ActionCountValidator.verify_action_counts  # for the comparison test
    ActionCountValidator.verify_action_counts = verify_action_counts
    ActionCountValidator._outreach_counted = True


def _copy_tree_nodes_directly() -> None:
    from moto.dynamodb.parsing.ast_nodes import Node

    if "__deepcopy__" in Node.__dict__:
        return

    def node_deepcopy(self, memo):
        # copy.deepcopy's result for an object of plain attributes (memo, keep-alive), without reduce/reconstruct
        new = object.__new__(type(self))
        memo[id(self)] = new
        state = {}
        for key, value in self.__dict__.items():
            if type(value) in _ATOMIC:
                state[key] = value
            elif type(value) is list:
                items = memo[id(value)] = []
                copy._keep_alive(value, memo)
                items.extend(v if type(v) in _ATOMIC else copy.deepcopy(v, memo) for v in value)
                state[key] = items
            else:
                state[key] = copy.deepcopy(value, memo)
        new.__dict__.update(state)
        return new

    Node.__deepcopy__ = node_deepcopy


class PlainInheritanceABCMeta(abc.ABCMeta):
    """ABCMeta whose isinstance/issubclass are type's: for ABCs that no class registers with."""

    __instancecheck__ = type.__instancecheck__
    __subclasscheck__ = type.__subclasscheck__


def tree_node_classes() -> list[type]:
    from moto.dynamodb.parsing.ast_nodes import Node

    found, pending = [], [Node]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending += cls.__subclasses__()
    return found


def _check_tree_nodes_in_c() -> None:
    classes = tree_node_classes()
    # A registered virtual subclass would need ABCMeta's check: then leave every class as it is.
    if any(abc._get_dump(cls)[0] for cls in classes if type(cls) is abc.ABCMeta):
        return
    for cls in classes:
        if type(cls) is abc.ABCMeta:
            cls.__class__ = PlainInheritanceABCMeta


def _size_without_copies() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import bytesize

    if hasattr(DynamoType.size, "moto_original"):
        return
    original = DynamoType.size

    def text_size(text) -> int:  # bytesize: UTF-8 bytes (an ASCII string's length, without encoding it)
        return len(text) if type(text) is str and text.isascii() else bytesize(text)

    def size_of(value) -> int:
        return size(value) if type(value) is DynamoType else DynamoType(value).size()

    def size(self) -> int:  # DynamoType.size, by its rules: N as text, sets per member, L/M summed, BOOL/NULL 1
        kind, value = self.type, self.value
        if kind == "S":
            return text_size(value)
        if kind == "M":
            return sum(text_size(k) + size_of(v) for k, v in value.items())
        if kind == "L":
            return sum(size_of(v) for v in value)
        if kind == "N":
            return len(str(value))
        if kind in ("SS", "NS", "BS"):
            return original(self)
        if isinstance(value, bool):
            return 1
        return bytesize(value)

    size.moto_original = original  # for the test that compares both
    DynamoType.size = size


def _copy_values_directly() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    if hasattr(DynamoType.__deepcopy__, "moto_original"):
        return
    originals = DynamoType.__deepcopy__, Item.__deepcopy__
    new = object.__new__

    def copy_of(value, memo):
        return value_copy(value) if type(value) is DynamoType else copy.deepcopy(value, memo)

    def value_copy(self, memo=None):
        result = new(type(self))
        kind = result.type = self.type
        value = self.value
        if kind == "M":
            result.value = {k: copy_of(v, memo) for k, v in value.items()}
        elif kind == "L":
            result.value = [copy_of(v, memo) for v in value]
        elif kind in ("SS", "NS", "BS"):
            result.value = list(value)
        else:
            result.value = value
        return result

    def item_copy(self, memo=None):
        result = new(type(self))
        result.hash_key = copy_of(self.hash_key, memo)
        result.range_key = copy_of(self.range_key, memo)
        attrs = LimitedSizeDict.__new__(LimitedSizeDict)  # as moto's copy: no size check per attribute
        dict.update(attrs, {k: copy_of(v, memo) for k, v in self.attrs.items()})
        result.attrs = attrs
        return result

    def regular_json(self):  # DynamoType.to_regular_json: plain JSON, nested values converted, B decoded
        value = self.value
        if isinstance(value, dict):
            value = {k: regular_json(v) if isinstance(v, DynamoType) else copy.deepcopy(v) for k, v in value.items()}
        elif isinstance(value, list):
            value = [regular_json(v) if isinstance(v, DynamoType) else copy.deepcopy(v) for v in value]
        elif type(value) not in _ATOMIC:
            value = copy.deepcopy(value)
        if self.type == "B" and isinstance(value, str):
            value = base64.b64decode(value)
        return {self.type: value}

    value_copy.moto_original, item_copy.moto_original = originals  # for the test that compares both
    regular_json.moto_original = DynamoType.to_regular_json
    DynamoType.__deepcopy__ = value_copy
    Item.__deepcopy__ = item_copy
    DynamoType.to_regular_json = regular_json


# Short scalar values recur across items (statuses, counts, model names, sort keys, a run's expiry): items hold
# one copy of each (10% less memory an item, measured on a soak's table). Not sys.intern: interned strings never
# die, and values come and go. Bounded: cleared when full.
SHARED_VALUES: dict[str, str] = {}
SHARED_VALUE_CHARS = 16  # ISO timestamps (24 characters) and ids are one of a kind: not shared
SHARED_VALUES_MAX = 50_000  # ~4 MB at most


def _build_items_once() -> None:
    import sys

    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    if hasattr(Item.__init__, "moto_original"):
        return
    originals = DynamoType.__init__, Item.__init__
    intern = sys.intern
    shared = SHARED_VALUES

    def value_init(self, type_as_dict) -> None:  # DynamoType.__init__: the first (type, value) pair, wrapped
        if type(type_as_dict) is DynamoType:
            kind, value = type_as_dict.type, type_as_dict.value
        else:
            kind, value = list(type_as_dict)[0], list(type_as_dict.values())[0]
        if type(kind) is str:
            kind = intern(kind)
        if type(value) is str and len(value) <= SHARED_VALUE_CHARS:
            value = shared.setdefault(value, value)
            if len(shared) > SHARED_VALUES_MAX:
                shared.clear()
        elif kind == "L":
            value = [DynamoType(v) for v in value]
        elif kind == "M":
            value = {intern(k) if type(k) is str else k: DynamoType(v) for k, v in value.items()}
        self.type, self.value = kind, value

    def item_init(self, hash_key, range_key, attrs) -> None:  # Item.__init__, the 400 KB check made once
        self.hash_key, self.range_key = hash_key, range_key
        self.attrs = LimitedSizeDict.__new__(LimitedSizeDict)
        dict.update(self.attrs, {intern(k) if type(k) is str else k: DynamoType(v) for k, v in attrs.items()})
        if self.size() > 405000:  # LimitedSizeDict's limit, on moto's own measure of the whole item
            raise ItemSizeTooLarge

    value_init.moto_original, item_init.moto_original = originals  # for the test that compares both
    DynamoType.__init__ = value_init
    Item.__init__ = item_init


def _plain_dicts_directly() -> None:
    from datetime import datetime

    from moto.dynamodb import responses
    from moto.dynamodb.models import utilities
    from moto.dynamodb.models.dynamo_type import DynamoType

    if hasattr(responses.dynamo_to_dict, "moto_original"):
        return
    original = utilities.dynamo_to_dict

    def to_dict(obj):
        kind = type(obj)
        if kind in _ATOMIC:  # none is a datetime, a DynamoType, has to_json, or is a dict or list
            return obj
        if kind is DynamoType and obj.type not in ("B", "BS"):
            return {obj.type: to_dict(obj.value)}
        if kind is dict:
            return {k: to_dict(v) for k, v in obj.items()}
        if kind is list:
            return [to_dict(v) for v in obj]
        if isinstance(obj, (datetime, DynamoType)) or hasattr(obj, "to_json"):
            return original(obj)
        if isinstance(obj, dict):
            return {k: to_dict(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [to_dict(v) for v in obj]
        return obj

    to_dict.moto_original = original
    responses.dynamo_to_dict = to_dict


def _parse_each_definition_once() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    if hasattr(ExecutionWorker._get_evaluation_entrypoint, "moto_original"):
        return

    @functools.lru_cache(maxsize=64)  # a stack has a handful of state machines; a syntax error is not cached
    def tree_of(definition: str):
        return AmazonStateLanguageParser.parse(definition)[1]

    def evaluation_entrypoint(self):
        return Preprocessor().visit(tree_of(self._evaluation_details.state_machine_details.definition))

    evaluation_entrypoint.moto_original = ExecutionWorker._get_evaluation_entrypoint  # for the test
    evaluation_entrypoint.tree_of = tree_of
    ExecutionWorker._get_evaluation_entrypoint = evaluation_entrypoint


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
    _count_clauses_once_per_node()
    _lex_condition_strings_once()
    _copy_tree_nodes_directly()
    _check_tree_nodes_in_c()
    _parse_each_definition_once()
    _size_without_copies()
    _plain_dicts_directly()
    _copy_values_directly()
    _build_items_once()
