"""Values of the documented request headers that are not per attempt.

``MS-Contract-Version`` is documented as required; ``MS-CorrelationId`` carries the journey's id
(``shared.observability``): HTTP request, timer run or queue message.
"""

from __future__ import annotations

import uuid

from shared.observability import correlation_scope

CONTRACT_VERSION = "v1"  # MS-Contract-Version: "usually v1 unless otherwise specified" (REST headers doc)
_CORRELATION_NAMESPACE = uuid.UUID("8f1d3c2a-6b4e-5a7d-9c0f-2e4b6d8a1c3e")

# One logical job: every call made inside ``with correlation(id):`` shares MS-CorrelationId. The app's
# journeys already run inside ``shared.observability.correlation_scope``; this is the same scope.
correlation = correlation_scope


def ms_correlation_id(journey_id: str) -> str:
    """The MS-CorrelationId (a GUID) for a journey id: the id itself when it is a GUID, else a stable
    GUID derived from it (uuid5), so support's id maps back to csp-guard's audit and logs."""
    try:
        return str(uuid.UUID(journey_id))
    except ValueError:
        return str(uuid.uuid5(_CORRELATION_NAMESPACE, journey_id))
