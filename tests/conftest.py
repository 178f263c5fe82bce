"""Fixtures shared by several test modules."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one CPU thread for a module: tiny networks gain nothing from a second thread,
    and on a shared CI machine idle OpenMP threads spinning against each other make each
    step many times slower. Use with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
