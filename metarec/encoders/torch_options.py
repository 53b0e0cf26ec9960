"""The torch settings the language-model wrappers accept: dtype names and device strings.

Pure Python (no torch import), so the wrappers validate their arguments before loading anything.
"""

from __future__ import annotations

import re

#: ``dtype`` names accepted by :class:`~metarec.encoders.text.HFTextEncoder` and the LM judge.
DTYPES: tuple[str, ...] = ("float32", "float16", "bfloat16")
#: Device strings accepted: ``"cpu"``, ``"auto"``, ``"cuda"`` or ``"cuda:N"``.
DEVICE_RE: re.Pattern[str] = re.compile(r"^(cpu|auto|cuda(:\d+)?)$")


def is_device(value: object) -> bool:
    """Whether ``value`` is a device string :data:`DEVICE_RE` accepts.

    Examples
    --------
    >>> is_device("cuda:1"), is_device("gpu"), is_device(0)
    (True, False, False)
    """
    return isinstance(value, str) and DEVICE_RE.match(value) is not None


__all__ = ["DTYPES", "DEVICE_RE", "is_device"]
