"""The queue: jobs and their state in Redis, changed only by atomic Lua scripts.

``keys`` names every key; ``store.JobStore`` is what the API needs (submit, find, end,
list); ``leases.Leases`` is what a worker needs (read, start, heartbeat, finish, requeue,
reclaim); ``registry.WorkerRegistry`` knows the live workers.
"""
