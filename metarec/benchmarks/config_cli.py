"""Command-line flags generated from a config dataclass: every field a flag, its docstring the help.

CleanRL's habit (a dataclass of arguments parsed to a CLI) without a dependency: a field ``num_candidates:
int`` becomes ``--num-candidates N``; ``bool`` fields become ``--x / --no-x``; tuples take comma-separated
values; dicts take JSON. Only the flags a user gives become overrides, so the suite's registered defaults
stay in force for the rest.

Examples
--------
>>> import argparse
>>> from metarec.benchmarks.config import SuiteConfig
>>> parser = argparse.ArgumentParser()
>>> add_config_arguments(parser, SuiteConfig, exclude=("name",))
>>> args = parser.parse_args(["--seeds", "2", "--agents", "random,oracle", "--regret-at", "5,10"])
>>> overrides_from_args(SuiteConfig, args)
{'agents': ('random', 'oracle'), 'seeds': 2, 'regret_at': (5, 10)}
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import textwrap
import types
import typing
from collections.abc import Iterable
from dataclasses import MISSING, fields
from typing import Any


def field_docs(cls: type) -> dict[str, str]:
    """Field name -> the docstring written right below the field (searched through the class's bases)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        tree = ast.parse(source)
        if not tree.body or not isinstance(tree.body[0], ast.ClassDef):
            continue
        body = tree.body[0].body
        for node, after in zip(body, body[1:]):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def flag_name(field_name: str) -> str:
    """``num_candidates`` -> ``--num-candidates``."""
    return "--" + field_name.replace("_", "-")


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _parser_for(annotation: Any) -> tuple[Any, str]:
    """(argparse type or action, metavar) for a field's annotation."""
    annotation = _strip_optional(annotation)
    origin = typing.get_origin(annotation)
    if annotation is bool:
        return argparse.BooleanOptionalAction, ""
    if annotation in (int, float, str):
        return annotation, annotation.__name__.upper()
    if origin is tuple:
        item = (typing.get_args(annotation) or (str,))[0]
        item = item if item in (int, float, str) else str

        def parse_tuple(text: str) -> tuple:
            try:
                return tuple(item(part.strip()) for part in text.split(",") if part.strip())
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"expected comma-separated {item.__name__} values, got {text!r}") from None

        return parse_tuple, f"{item.__name__.upper()},..."
    if origin in (dict, list) or annotation in (dict, list):

        def parse_json(text: str) -> Any:
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                raise argparse.ArgumentTypeError(f"expected JSON, got {text!r} ({exc.msg})") from None

        return parse_json, "JSON"
    return str, "VALUE"


def add_config_arguments(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    defaults: dict[str, Any] | None = None,
    exclude: Iterable[str] = (),
    aliases: dict[str, str] | None = None,
) -> None:
    """Add one flag per field of the dataclass ``cls`` to ``parser`` (all default to "not given").

    Parameters
    ----------
    parser : argparse.ArgumentParser
    cls : type
        A dataclass whose fields carry docstrings.
    defaults : dict, optional
        The values the suite uses when a flag is not given (shown in the help).
    exclude : iterable of str
        Fields that get no flag.
    aliases : dict, optional
        Old flag -> field name, accepted with a deprecation note in the help.
    """
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    defaults = defaults or {}
    group = parser.add_argument_group(f"{cls.__name__} fields (every one a flag; unset flags keep the suite's value)")
    old_flags: dict[str, list[str]] = {}
    for old, name in (aliases or {}).items():
        old_flags.setdefault(name, []).append(old)
    for f in fields(cls):
        if f.name in exclude or not f.init:
            continue
        kind, metavar = _parser_for(hints.get(f.name, str))
        if f.name in defaults:
            default = defaults[f.name]
        elif f.default is not MISSING:
            default = f.default
        elif f.default_factory is not MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = "required"
        shown = json.dumps(default) if isinstance(default, dict) else default
        help_text = f"{docs.get(f.name, '')} (default: {shown})".replace("%", "%%").strip()
        names = [flag_name(f.name), *old_flags.get(f.name, [])]
        if kind is argparse.BooleanOptionalAction:
            group.add_argument(*names, dest=f.name, action=kind, default=argparse.SUPPRESS, help=help_text)
        else:
            group.add_argument(*names, dest=f.name, type=kind, metavar=metavar, default=argparse.SUPPRESS,
                               help=help_text)


def overrides_from_args(cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The fields of ``cls`` that were given on the command line, as a dict of overrides."""
    given = vars(args)
    return {f.name: given[f.name] for f in fields(cls) if f.name in given}


__all__ = ["add_config_arguments", "overrides_from_args", "field_docs", "flag_name"]
