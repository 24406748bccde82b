"""Importing aiogram without building every Bot API type up front.

`aiogram.types` ends by calling `model_rebuild()` on each of its ~300 pydantic models, each with its whole tree of
nested types: 1.5-2 s and about 100 MB of validators, before the first line of ours runs, most of them for types
the bot never receives. Its models are declared with `defer_build=True`, so pydantic can just as well build each
one the first time it validates something; what the rebuild loop adds is the namespace that resolves the types'
forward references (each module names its neighbours only under TYPE_CHECKING). `import_aiogram_types` imports
`aiogram.types` with the loop skipped and puts that namespace where pydantic looks when it builds a model
later: the globals of the module that defined it. The first update of each kind then costs a few tens of
milliseconds once. A pydantic without `__pydantic_complete__` gets the framework's own import;
tests/unit/test_lazy_imports.py checks that the deferred types still validate what the bot receives.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

TYPES_PACKAGE = "aiogram.types"


def import_aiogram_types() -> bool:
    """Import `aiogram.types` with its models' builds deferred to first use; whether they were deferred
    (False when aiogram was already imported, or fell back to building everything)."""
    if TYPES_PACKAGE in sys.modules:
        return False
    from pydantic import BaseModel

    if not hasattr(BaseModel, "__pydantic_complete__"):
        return _import_eagerly()
    namespaces: list[dict[str, Any]] = []
    with _rebuild_recorded(BaseModel, namespaces):
        __import__(TYPES_PACKAGE)
    if not namespaces:
        # aiogram no longer rebuilds at import: nothing was skipped, nothing to restore.
        return False
    _share_namespace(namespaces[0])
    return True


@contextmanager
def _rebuild_recorded(base: type, namespaces: list[dict[str, Any]]) -> Iterator[None]:
    """While inside, `model_rebuild(_types_namespace=...)` of an incomplete aiogram type only records the
    namespace; every other rebuild runs as usual."""
    original = base.__dict__["model_rebuild"]
    build = original.__func__

    def record(cls: type, **options: Any) -> bool | None:
        namespace = options.get("_types_namespace")
        deferrable = namespace is not None and not options.get("force") and not cls.__pydantic_complete__  # type: ignore[attr-defined]
        if deferrable and cls.__module__.startswith(TYPES_PACKAGE + "."):
            if not namespaces:
                namespaces.append(dict(namespace))
            return None
        if namespace is None:
            # One frame more than pydantic expects (this one) between it and the caller whose namespace it reads.
            options["_parent_namespace_depth"] = options.get("_parent_namespace_depth", 2) + 1
        return build(cls, **options)

    base.model_rebuild = classmethod(record)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        base.model_rebuild = original  # type: ignore[attr-defined]


def _share_namespace(namespace: dict[str, Any]) -> None:
    """Make every name of the types namespace visible in each aiogram.types module, without overriding any."""
    modules = {getattr(value, "__module__", "") for value in namespace.values()}
    for name in sorted(modules):
        module = sys.modules.get(name)
        if module is None or not name.startswith(TYPES_PACKAGE + "."):
            continue
        for key, value in namespace.items():
            module.__dict__.setdefault(key, value)


def _import_eagerly() -> bool:
    __import__(TYPES_PACKAGE)
    return False
