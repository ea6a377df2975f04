"""Python data products: a function that returns the product's data, declared with `@product`.

The function holds only business logic. Its parameters are its input ports, named after the
products they read (`def weather_delay(flights, hourly_observations)`); everything else — key,
owners, contract, partitions, IO — comes from the product's descriptor.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CONTEXT_PARAMETER = "context"


@dataclass(frozen=True)
class PythonProduct:
    name: str
    fn: Callable[..., Any]

    def input_parameters(self) -> list[str]:
        return [p for p in inspect.signature(self.fn).parameters if p != CONTEXT_PARAMETER]

    @property
    def where(self) -> str:
        code = self.fn.__code__
        return f"{self.fn.__module__}.{self.fn.__qualname__} ({code.co_filename}:{code.co_firstlineno})"


def product(fn: Callable[..., Any] | None = None, *, name: str | None = None):
    """Mark a function as the implementation of the product of the same name (or `name`)."""

    def wrap(function: Callable[..., Any]) -> PythonProduct:
        return PythonProduct(name=name or function.__name__, fn=function)

    return wrap(fn) if fn is not None else wrap
