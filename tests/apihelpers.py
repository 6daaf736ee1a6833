"""Helpers shared by the gradio_client API tests (imported by the test modules beside it)."""

from __future__ import annotations

import re
import time
from typing import Callable

import pytest
from gradio_client.exceptions import AppError


def wait_until(poll: Callable[[], dict], pred: Callable[[dict], bool], timeout: float) -> dict:
    """Poll until `pred(status)` holds; fail with the last status after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        s = poll()
        if pred(s):
            return s
        assert time.monotonic() < deadline, f"condition not reached within {timeout} s; last status {s}"
        time.sleep(0.2)


def expect_app_error(client, fragment: str, *args, api_name: str,
                     still_answers: Callable[[], bool] | None = None) -> str:
    """Call `api_name` expecting an error whose message contains `fragment`; then, when given,
    `still_answers()` must hold (the session keeps serving after the error). Returns the message."""
    with pytest.raises(AppError, match=f"(?i){re.escape(fragment)}") as info:
        client.predict(*args, api_name=api_name)
    msg = str(info.value)
    assert fragment.lower() in msg.lower(), f"expected {fragment!r} in the error, got {msg!r}"
    if still_answers is not None:
        assert still_answers(), "the session must still answer after an error"
    return msg
