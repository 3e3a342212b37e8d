"""What the durable workflow's pieces share: the names of its functions, the ids of its
instances, and the contracts (typed JSON) that cross every orchestration and activity boundary.

Triggers, orchestrators and activities import from here; ``mysqlexport`` (the ARM domain)
never does, so it stays free of Durable Functions concerns.
"""
