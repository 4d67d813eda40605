"""Construction of trusted pydantic models without validation or per-instance bookkeeping.

The engine builds many small immutable models from values it has already checked; ``model_construct``
costs ~10 µs and a fresh ``fields_set`` per instance. ``build`` sets ``__dict__`` directly and shares one
"all fields set" marker per class. Callers must pass every field (tests round-trip these models through
validation to keep that honest).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
_ALL_FIELDS: dict[type, set[str]] = {}
_set = object.__setattr__


def build(cls: type[M], /, **values: Any) -> M:
    """An instance of ``cls`` holding exactly ``values`` (all of its fields, already valid)."""
    fields = _ALL_FIELDS.get(cls)
    if fields is None:
        fields = _ALL_FIELDS[cls] = set(cls.model_fields)
    m = cls.__new__(cls)
    _set(m, "__dict__", values)
    _set(m, "__pydantic_fields_set__", fields)
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m


def replace(model: M, /, **changes: Any) -> M:
    """A copy of ``model`` with ``changes`` applied (no validation)."""
    return build(type(model), **{**model.__dict__, **changes})
