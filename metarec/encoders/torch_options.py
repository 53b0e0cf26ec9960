"""The torch settings the language-model wrappers accept: dtype names and device strings.

Pure Python (no torch import), so the wrappers validate their arguments before loading anything.
"""

from __future__ import annotations

import re

from metarec.errors import EncoderError

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


def resolve_device(device: str) -> str:
    """The torch device a wrapper runs on: ``"auto"`` is CUDA when available, else the CPU.

    Raises `EncoderError` for a CUDA device on a machine without CUDA. Imports torch (call it when loading).
    """
    import torch  # deferred: heavy dependency, loaded when a model loads

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise EncoderError(f"`device={device!r}` but CUDA is not available; use device='cpu' or 'auto'")
    return device


__all__ = ["DTYPES", "DEVICE_RE", "is_device", "resolve_device"]
