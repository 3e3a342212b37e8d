"""Exceptions raised by devhost itself.

Failures inside user code (an activity raising, an orchestrator failing) are recorded on the
orchestration instance, exactly as the real host does; they are never raised from here. These
types cover the other kind of problem: an app the host cannot index, a feature devhost does not
emulate, or a management call the real host would reject (unknown instance, duplicate id).
"""

from __future__ import annotations


class DevHostError(Exception):
    """Base class of every error devhost raises on its own behalf."""


class IndexingError(DevHostError, ValueError):
    """The app could not be loaded or one of its functions has an unusable binding."""


class UnsupportedFeatureError(DevHostError, NotImplementedError):
    """The app uses a Durable Functions feature devhost does not emulate."""


class UnknownFunctionError(DevHostError, ValueError):
    """A start request named a function the app does not define (the host answers 400)."""


class InstanceNotFoundError(DevHostError, KeyError):
    """No orchestration instance has the given id (the host answers 404)."""

    def __init__(self, instance_id: str) -> None:
        super().__init__(instance_id)
        self.instance_id = instance_id

    def __str__(self) -> str:
        return f"No instance with ID '{self.instance_id}' found."


class InstanceGoneError(DevHostError):
    """The instance already reached a terminal state (the host answers 410)."""

    def __init__(self, instance_id: str, status: str) -> None:
        super().__init__(f"Instance with ID '{instance_id}' is gone: it is {status}.")
        self.instance_id = instance_id
        self.status = status


class InstanceAlreadyRunningError(DevHostError):
    """start_new named an instance id that is still running (the host answers 500)."""

    def __init__(self, instance_id: str, status: str) -> None:
        super().__init__(f"An Orchestration instance with the status {status} already exists.")
        self.instance_id = instance_id
        self.status = status
