"""Use cases: load state through the stores, call an engine, persist the outcome, publish actions.

Each module is one flow (payments in, sweep, enforcement, notices, operator actions). Functions in
``functions/`` and the ``cspguard`` CLI call these; nothing here imports ``azure.functions``.
"""
