"""`segmint serve`: the web app and REST API (docs/cli.md), registered on the main CLI app."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Annotated

import typer

from segmint.agent.cli._app import WorkspaceOpt, app
from segmint.agent.cli._out import err
from segmint.agent.core.errors import UsageError


def is_loopback(host: str) -> bool:
    """Whether binding to `host` keeps the server reachable from this machine only."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_binding(host: str, token: str | None) -> None:
    """Refuse to expose the customer data beyond this machine without a token.

    Raises:
        UsageError: a non-loopback host and no token (exit 2).
    """
    if not token and not is_loopback(host):
        raise UsageError(f"refusing to serve on {host} without a token: anyone on the network could "
                         "read your customers — pass --token T (or set SEGMINT_TOKEN), or bind to "
                         "127.0.0.1")


def single_threaded_models() -> None:
    """One torch thread per request: a server answers many requests at once, and torch's own
    threads fighting for the same busy cores made a question with an interest ~4x slower
    (1.35 s against 0.3 s at 100k customers)."""
    import torch

    torch.set_num_threads(1)


def check_port(host: str, port: int) -> None:
    """Fail early, in one line, when the address cannot be listened on (before loading models).

    Raises:
        UsageError: the port is taken or the host is not an address of this machine.
    """
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc} — pick another "
                         "--port or --host") from exc


@app.command()
def serve(
    workspace: WorkspaceOpt = Path("segmint-workspace"),
    host: Annotated[str, typer.Option(help="Address to bind (loopback unless a token is set).")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    token: Annotated[str | None, typer.Option(
        envvar="SEGMINT_TOKEN", help="Every /api/ call must send 'Authorization: Bearer TOKEN'.")] = None,
    llm: Annotated[str | None, typer.Option(
        help="Question parser for /api/ask and the page: builtin, openai:MODEL, ollama:MODEL, ...")
    ] = None,
) -> None:
    """Serve the web app and the REST API for a workspace."""
    import uvicorn

    from segmint.agent.api.app import create_app, warm_up  # fastapi: `serve` alone loads it

    token = token or None
    check_binding(host, token)
    check_port(host, port)
    api = create_app(workspace, token, llm=llm)
    single_threaded_models()
    err.print("segmint: loading the models…")
    warm_up(workspace)
    shown = f"[{host}]" if ":" in host else host
    err.print(f"segmint: serving {workspace} on http://{shown}:{port}/ "
              f"({'token required' if token else 'no token'}; Ctrl-C to stop)")
    uvicorn.run(api, host=host, port=port, log_level="warning")
