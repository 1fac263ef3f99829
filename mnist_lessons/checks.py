"""One way to check a public argument, and one sentence for each kind of mistake.

The library's functions, the chapters' parameters cells and the command line all check their
numbers here, so the same bad value gets the same message wherever it is given, in Keras's form:
``train_limit must be an integer from 10 to 55000. Received: train_limit=-5``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

MAX_SEED = 2**32 - 1
"""The largest seed every backend accepts."""


class ParameterError(ValueError):
    """An argument or a chapter parameter has a value the library cannot work with."""


def _describe_range(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"an integer from {minimum} to {maximum}"
    if minimum is not None:
        return f"an integer of at least {minimum}"
    if maximum is not None:
        return f"an integer of at most {maximum}"
    return "an integer"


def check_int(
    name: str,
    value,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    none_means: str | None = None,
) -> int | None:
    """Returns ``value`` as an ``int`` if it is an integer in range, else raises.

    Args:
        name: the argument's name, as the caller wrote it.
        value: what was received. ``bool`` is refused even though it is an ``int``.
        minimum, maximum: inclusive bounds; None for no bound.
        none_means: if given, ``None`` is accepted (and returned); the phrase says what it
            means, e.g. ``"the documented number"``, for the reader of the call. The message for
            a bad value is the same either way, so that a chapter, the library and the command
            line word the same mistake alike.

    Raises:
        ParameterError: ``"<name> must be an integer from <minimum> to <maximum>. Received:
            <name>=<value!r>"``.
    """
    if value is None and none_means is not None:
        return None
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, np.integer))
        and (minimum is None or value >= minimum)
        and (maximum is None or value <= maximum)
    )
    if not ok:
        accepted = _describe_range(minimum, maximum)
        raise ParameterError(f"{name} must be {accepted}. Received: {name}={value!r}")
    return int(value)


def check_choice(name: str, value, choices: Iterable[str]) -> str:
    """Returns ``value`` if it is one of ``choices``, else raises `ParameterError`."""
    choices = list(choices)
    if value not in choices:
        raise ParameterError(
            f"{name} must be one of {', '.join(choices)}. Received: {name}={value!r}"
        )
    return value
