"""Workers: a supervisor process that runs jobs in long-lived engine processes."""

from c3render.worker.supervisor import Worker

__all__ = ["Worker"]
