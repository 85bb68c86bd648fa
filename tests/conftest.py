"""Fixtures shared by several test files."""

import pytest


@pytest.fixture(scope="module")
def torch_one_thread():
    """torch on one thread for the module (bit-identical CPU fits), restored after."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
