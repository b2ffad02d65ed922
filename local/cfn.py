"""Read template.yaml and resolve the intrinsics the local stack needs (no restating of the template)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _Loader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - SafeLoader subclass


class Resolver:
    """Resolves Ref, GetAtt, Sub, If, Equals, Not, Join and Select against local physical ids."""

    def __init__(self, template: dict[str, Any], physical: dict[str, dict[str, str]], parameters: dict[str, str]):
        self.template = template
        self.physical = physical  # logical id -> {"Ref": ..., "Arn": ..., other attributes}
        self.parameters = parameters
        self.pseudo = {
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "outreach-local",
        }

    def ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return str(self.parameters[name])
        if name in self.physical:
            return self.physical[name]["Ref"]
        raise KeyError(f"template.yaml refers to {name!r}, which the local stack does not provide")

    def get_att(self, logical: str, attribute: str) -> str:
        try:
            return self.physical[logical][attribute]
        except KeyError:
            raise KeyError(
                f"template.yaml asks for {logical}.{attribute}, which the local stack does not provide"
            ) from None

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.get("Conditions", {})[name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(arg[0], arg[1])
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Equals":
                return str(self.resolve(arg[0])) == str(self.resolve(arg[1]))
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::Join":
                return str(arg[0]).join(str(self.resolve(v)) for v in arg[1])
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key == "Condition":
                return self.condition(arg)
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                return self.get_att(logical, attribute)
            return self.ref(name)

        return re.sub(r"\$\{([^}!]+)\}", replace, text)


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template.get("Resources", {}).items() if r.get("Type") == kind}


def function_environment(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """Globals' environment, overlaid by the function's own, unresolved."""
    globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    props = template["Resources"][logical_id].get("Properties", {})
    own = props.get("Environment", {}).get("Variables", {})
    return {**globals_env, **own}


def parameter_defaults(template: dict[str, Any]) -> dict[str, str]:
    return {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}
