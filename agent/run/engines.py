"""The engines by name (`--engine local|ray`): the registry and the context that opens one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from segmint.agent.core.errors import InputError, UsageError
from segmint.agent.core.registry import Registry
from segmint.agent.run.engine import Engine, LocalEngine

__all__ = ["ENGINES", "open_engine"]

ENGINES: Registry[Engine] = Registry("engine", "--engine")


@ENGINES.register("local")
def _local(address: str | None = None) -> Engine:
    if address:
        raise UsageError("--ray-address needs --engine ray")
    return LocalEngine()


@ENGINES.register("ray")
def _ray(address: str | None = None) -> Engine:
    try:
        from segmint.agent.run.ray_engine import RayEngine  # noqa: PLC0415  (imports ray: optional)
    except ImportError as exc:
        raise UsageError("--engine ray needs Ray: pip install 'segmint[ray]'") from exc
    try:
        return RayEngine.start(address)
    except ConnectionError as exc:
        raise InputError(f"cannot reach the Ray cluster: {str(exc).splitlines()[0]}",
                         field="--ray-address", kind="option",
                         fix="check the address (`ray status` on the head node)") from exc


@contextmanager
def open_engine(name: str = "local", address: str | None = None) -> Iterator[Engine]:
    """The engine for ``--engine`` / ``--ray-address``, shut down (if we started it) on exit.

    Args:
        name: a registered engine: ``local`` or ``ray``.
        address: a Ray cluster to join (``auto``, ``HOST:PORT`` or ``ray://HOST:10001``); without
            it a Ray runtime is started on this machine for the run.

    Raises:
        UsageError: an unknown engine, an address without ``--engine ray``, or Ray not installed.
        InputError: the Ray cluster cannot be reached.
    """
    engine = ENGINES.create(name, address=address)
    try:
        yield engine
    finally:
        engine.close()
