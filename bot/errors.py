"""Errors shared by the command line and the code it runs (here, so neither imports the other for them)."""

from __future__ import annotations

import errno


class CommandError(Exception):
    """A command could not do what was asked; the message says why in one line."""


def cannot_listen(host: str, port: int, exc: OSError, other_port: str) -> CommandError:
    """The one-line error for a server that could not listen on host:port, saying what to do about it."""
    if exc.errno == errno.EADDRINUSE:
        return CommandError(
            f"port {port} on {host} is already in use (is a sandbox or fake server running?): stop it, or {other_port}"
        )
    return CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; {other_port}")


class TaskEnded(RuntimeError):
    """A task that must run as long as the process (polling, the outbox sender, the scheduler) ended: the process
    stops with a non-zero exit, so a supervisor restarts it."""


EXIT_TASK_ENDED = 1
