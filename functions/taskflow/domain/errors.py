"""Domain errors. Entrypoints translate them: ValidationError -> 422, TaskNotFound -> 404."""

from __future__ import annotations


class DomainError(Exception):
    pass


class ValidationError(DomainError):
    """Bad input: names the field and the reason, and nothing has changed."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


class TaskNotFound(DomainError):
    def __init__(self, task_id: int) -> None:
        super().__init__(f"task {task_id} not found")
        self.task_id = task_id


class InvalidOperation(DomainError):
    """A valid request that the task's state forbids, e.g. skipping a task that does not repeat."""


class SeriesCannotContinue(DomainError):
    """A recurring task's next occurrence cannot be made: its date cannot be computed or falls
    outside the years a due may have. The series ends, and the user is told why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
