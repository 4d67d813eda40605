"""csp-guard's library code: everything the Functions in ``functions/`` call.

Never imports ``azure.functions`` or ``functions``: the library must be usable from the CLI,
tests and benchmarks without the Functions host.
"""
