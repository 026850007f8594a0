"""SIGTERM as Ctrl-C: once, so that a second SIGTERM cannot break off the clean-up."""

from __future__ import annotations

import os
import signal

import pytest

from mlspec.runtime.interrupts import sigterm_as_interrupt


def test_the_first_sigterm_interrupts_and_a_second_one_leaves_the_clean_up_alone() -> None:
    before = signal.getsignal(signal.SIGTERM)
    cleaned = False
    with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt():
        try:
            os.kill(os.getpid(), signal.SIGTERM)  # raises KeyboardInterrupt here
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # during the clean-up: ignored
            cleaned = True
    assert cleaned
    assert signal.getsignal(signal.SIGTERM) == before  # the previous handler is back
