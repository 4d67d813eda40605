"""The ``cspguard`` command: developer and operator tools over the same code the app runs."""
