from __future__ import annotations

import pytest

from metarec.encoders import causal_lm, text
from metarec.encoders.torch_options import DTYPES, is_device


@pytest.mark.parametrize("value, ok", [("cpu", True), ("auto", True), ("cuda", True), ("cuda:3", True),
                                       ("gpu", False), ("cuda:", False), ("CPU", False), (0, False), (None, False)])
def test_is_device(value, ok):
    assert is_device(value) is ok


def test_text_encoder_and_judge_share_one_definition():
    assert text._DTYPES is causal_lm._DTYPES is DTYPES
    assert text._DEVICE_RE is causal_lm._DEVICE_RE
