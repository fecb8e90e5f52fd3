"""Workers: a supervisor process that runs jobs in long-lived engine processes.

``supervisor.Worker`` runs N ``slot.Slot`` threads, heartbeats, webhook delivery and
housekeeping. Each slot reads jobs through ``queue.leases`` and runs them in an
``engine_process`` per job type, which does ``pipeline`` (fetch → engine → store).
"""

from c3render.worker.supervisor import Worker

__all__ = ["Worker"]
