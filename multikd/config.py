"""Typed configuration: dataclasses filled from one YAML file, with dotted overrides from the command line.

``load_config(Recipe, "recipes/x/recipe.yaml", ["data.minutes=15"])`` reads the YAML, applies overrides
(values parsed as YAML, so ``15`` is an int and ``[a, b]`` a list), and builds the nested dataclasses.
Unknown keys and missing required fields are :class:`~multikd.errors.ConfigError`\\ s that name the dotted
key and the file. Relative paths are resolved against the YAML file's folder by the code that uses them
(``Recipe.base_dir``).
"""
from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path

import yaml

from multikd.errors import ConfigError


def _convert(tp, value, key: str, where: str):
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        errors = []
        for a in non_none:
            try:
                return _convert(a, value, key, where)
            except ConfigError as e:
                errors.append(e)
        raise errors[0]
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {type(value).__name__}", where=where)
        return build(tp, value, prefix=f"{key}.", where=where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list, got {value!r}", where=where)
        inner = args[0] if args else typing.Any
        items = [_convert(inner, v, f"{key}[{i}]", where) for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}", where=where)
        return dict(value)
    if tp is typing.Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool) and not (isinstance(value, tp) and not (tp is int and isinstance(value, bool))):
        raise ConfigError(f"{key} must be {tp.__name__}, got {value!r}", where=where)
    return value


def build(cls, data: dict, *, prefix: str = "", where: str = "config"):
    """Build dataclass ``cls`` from a dict; unknown keys and missing required fields are ConfigErrors."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(prefix + u for u in unknown)}", where=where,
                          fix=f"known keys under {prefix.rstrip('.') or 'the top level'}: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], prefix + name, where)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing required field {prefix + name}", where=where,
                              fix=f"add `{prefix + name}: ...`")
    return cls(**kwargs)


def apply_overrides(data: dict, overrides: list[str], where: str = "command line") -> dict:
    """``["a.b=3", "c=[x, y]"]`` → nested updates of ``data`` (values parsed as YAML)."""
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not KEY=VALUE", where=where, fix="e.g. data.minutes=15")
        key, _, raw = item.partition("=")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as e:
            raise ConfigError(f"override {item!r}: value is not valid YAML ({e})", where=where) from None
        node = data
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {p} is not a mapping", where=where)
        node[parts[-1]] = value
    return data


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("file not found", where=str(path)) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"invalid YAML: {getattr(e, 'problem', e)}", where=where) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("top level must be a mapping", where=str(path))
    return data


def load_config(cls, path: str | Path, overrides: list[str] | None = None):
    data = apply_overrides(read_yaml(path), overrides or [])
    return build(cls, data, where=str(path))


def to_dict(obj) -> dict:
    """A dataclass (tree) as plain data, for saving the resolved config next to an artifact."""
    def conv(v):
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, Path):
            return str(v)
        return v

    return conv(obj)
