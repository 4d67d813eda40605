"""One error root for messaging: ``MessagingError`` (``EnvelopeError``, ``MessageTooLarge`` below it).

Each subclass is also a ``ValueError``, as before the root existed.
"""

from __future__ import annotations

__all__ = ["MessagingError"]


class MessagingError(Exception):
    """Root of every error raised by ``shared.messaging``."""
