"""The Functions host of the functional tier: delivers what a use case sent to the use case its function calls.

Each message is encoded as the host hands it to a function, parsed or parked (``parse_or_park``, as
``functions/_queue.receive`` does), run, and deferred or parked by the same rules the functions use
(``shared.services.delivery``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.messaging import Envelope, Queue, kinds
from shared.messaging.handling import parse_or_park
from shared.messaging.producer import encode_body

if TYPE_CHECKING:
    from tests.functional.conftest import World

@dataclass
class Host:
    """Delivers queued messages to the use cases their functions call (functions/*.py), as the host would."""

    world: World
    delivered: list[tuple[str, str, Any]] = field(default_factory=list)  # (queue, kind, result)

    def _parse(self, queue: Queue, envelope: Envelope | str, models: dict[str, Any]) -> tuple[Envelope, Any] | None:
        body = envelope if isinstance(envelope, str) else encode_body(envelope, "json")
        return parse_or_park(queue, body, models, self.world.ctx.deadletters, 1)

    async def deliver(self, queue: Queue, envelope: Envelope | str) -> Any:
        """One message (an envelope a use case sent, or raw text as a producer wrote it) to its use case."""
        from shared.services.delivery import Received, run_or_defer, send_or_park
        from shared.services.enforcement import TRANSIENT, execute
        from shared.services.fraud import (
            FraudScanItem,
            ServiceRequestMessage,
            deliver_service_request,
        )
        from shared.services.fraud.scan import work
        from shared.services.messages import CollectionsNotice, EnforcementRequest, SweepShard
        from shared.services.notices import deliver
        from shared.services.payments import EVENT_MODELS, handle_event
        from shared.services.sweep import process_shard

        ctx = self.world.ctx
        by_queue: dict[Queue, dict[str, Any]] = {
            Queue.PAYMENT_EVENTS: EVENT_MODELS, Queue.SWEEP_SHARDS: {kinds.SWEEP_SHARD: SweepShard},
            Queue.ENFORCEMENT: {kinds.ENFORCEMENT: EnforcementRequest},
            Queue.NOTIFICATIONS: {kinds.NOTICE: CollectionsNotice},
            Queue.FRAUD_SCAN: {kinds.FRAUD_SCAN: FraudScanItem},
            Queue.SERVICE_REQUESTS: {kinds.SERVICE_REQUEST: ServiceRequestMessage},
        }
        models = by_queue[queue]
        parsed = self._parse(queue, envelope, models)
        if parsed is None:
            result: Any = None
        else:
            env, payload = parsed
            cid = env.correlation_id or ""
            m = Received(str(queue), encode_body(env, "json"), 1, env)
            if queue == Queue.PAYMENT_EVENTS:  # functions/payments.py payment_event
                result = handle_event(ctx, m, payload, correlation_id=cid)
            elif queue == Queue.SWEEP_SHARDS:  # functions/collections.py collections_sweep_shard
                result = process_shard(ctx, payload)
            elif queue == Queue.ENFORCEMENT:  # enforcement_action (run_or_defer)
                result = await run_or_defer(ctx, m, execute(ctx, payload, correlation_id=cid), TRANSIENT)
            elif queue == Queue.NOTIFICATIONS:  # notification (send_or_park)
                result = await send_or_park(ctx, m, deliver(ctx, payload, correlation_id=cid))
            elif queue == Queue.FRAUD_SCAN:  # functions/fraud.py fraud_scan_work
                result = await work(ctx, payload)
            else:  # fraud_service_request (send_or_park)
                result = await send_or_park(ctx, m, deliver_service_request(ctx, payload, correlation_id=cid))
        kind = envelope.kind if isinstance(envelope, Envelope) else "raw"
        self.delivered.append((str(queue), kind, result))
        return result

    async def run(self, *queues: Queue, rounds: int = 20) -> list[tuple[str, str, Any]]:
        """Deliver what is visible on ``queues`` (default: all), and what that sends, until they are quiet."""
        start = len(self.delivered)
        wanted = queues or tuple(Queue)
        for _ in range(rounds):
            batch = [(q, e) for q in wanted for e in self.world.ctx.queues.take(q)]
            if not batch:
                return self.delivered[start:]
            for queue, envelope in batch:
                await self.deliver(queue, envelope)
        raise AssertionError(f"queues still busy after {rounds} rounds: {self.world.ctx.queues.sent}")


__all__ = ["Host"]
