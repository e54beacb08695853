"""Fixtures shared by the worker-process tests."""

from tests.sending.test_workers import fake, worker_env  # noqa: F401
