"""Where each lab process listens. The defaults are DESIGN.md's; tests pass free ports instead."""

from __future__ import annotations

import socket

from pydantic import BaseModel


class Ports(BaseModel):
    target: int = 8000
    dependency: int = 8001
    loadgen: int = 8002
    chaos: int = 8080
    action: int = 9000
    worker: int = 8010
    worker_action: int = 9010
    agent: int = 9001
    exporter: int = 9102
    prometheus: int = 9090
    alertmanager: int = 9093
    llm: int = 8090  # only with `--llm local`

    @classmethod
    def free(cls) -> Ports:
        """Ports the OS says are free now, one per component, for tests that run beside each other."""
        return cls(**{name: free_port() for name in cls.model_fields})


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
