"""The Functions host of the functional tier: delivers what a use case sent to the use case its function calls.

Each message is encoded as the host hands it to a function, parsed or parked (``parse_or_park``, as
``functions/_queue.receive`` does), run, and deferred or parked on the errors ``functions/_queue.py`` handles.
"""

from __future__ import annotations

from collections.abc import Awaitable
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
        from shared.collections import PolicyError
        from shared.services.enforcement import TRANSIENT, execute
        from shared.services.fraud import (
            FraudScanItem,
            ServiceRequestMessage,
            assess_shard,
            deliver_service_request,
            stream,
        )
        from shared.services.messages import CollectionsNotice, EnforcementRequest, SweepShard
        from shared.services.notices import deliver
        from shared.services.payments import EVENT_MODELS, LedgerError, ingest
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
            if queue == Queue.PAYMENT_EVENTS:  # functions/payments.py payment_event
                result = None
                try:
                    result = ingest(ctx, ctx.stores, payload, correlation_id=cid, source=env.source)
                except LedgerError as exc:
                    ctx.deadletters.put(queue, encode_body(env, "json"), f"cannot apply {env.kind}: {exc}", 1)
                except PolicyError as exc:
                    ctx.deadletters.put(queue, encode_body(env, "json"),
                                        f"recorded, but the customer cannot be evaluated: {exc}", 1)
            elif queue == Queue.SWEEP_SHARDS:  # functions/collections.py collections_sweep_shard
                result = process_shard(ctx, payload)
            elif queue == Queue.ENFORCEMENT:  # enforcement_action (run_or_defer)
                result = await self._or_defer(queue, env, execute(ctx, payload, correlation_id=cid), TRANSIENT)
            elif queue == Queue.NOTIFICATIONS:  # notification (send_or_park)
                result = await self._or_park(queue, env, deliver(ctx, payload, correlation_id=cid))
            elif queue == Queue.FRAUD_SCAN:  # functions/fraud.py fraud_scan_work
                result = await (stream if payload.stage == "stream" else assess_shard)(ctx, payload)
            else:  # fraud_service_request (send_or_park)
                result = await self._or_park(queue, env, deliver_service_request(ctx, payload, correlation_id=cid))
        kind = envelope.kind if isinstance(envelope, Envelope) else "raw"
        self.delivered.append((str(queue), kind, result))
        return result

    def _defer(self, queue: Queue, env: Envelope, why: str, delay: float | None = None) -> None:
        """functions/_queue.py defer_or_park: send again later with back-off; park after MAX_DEFERRALS."""
        from shared.messaging.retry import MAX_DEFERRALS, backoff_seconds

        ctx = self.world.ctx
        if env.attempt >= MAX_DEFERRALS:
            ctx.deadletters.put(queue, encode_body(env, "json"),
                                f"still failing after {env.attempt} deferred attempts: {why}", 1)
            return
        wait = backoff_seconds(env.attempt) if delay is None else delay
        ctx.producer.send(queue, env.model_copy(update={"attempt": env.attempt + 1}), delay_seconds=max(1, int(wait)))

    async def _or_defer(self, queue: Queue, env: Envelope, work: Awaitable[Any],
                        transient: tuple[type[BaseException], ...]) -> Any:
        """functions/_queue.py run_or_defer: a live claim or a transient error waits and comes back."""
        from shared.storage.errors import StorageUnavailable
        from shared.storage.idempotency import AlreadyInProgress

        waits: tuple[type[BaseException], ...] = (*transient, StorageUnavailable)
        try:
            return await work
        except AlreadyInProgress as exc:
            self._defer(queue, env, str(exc), min(exc.retry_after.total_seconds() + 2, 30.0))
        except waits as exc:
            self._defer(queue, env, f"{type(exc).__name__}: {exc}")
        return None

    async def _or_park(self, queue: Queue, env: Envelope, send: Awaitable[Any]) -> Any:
        """functions/_queue.py send_or_park: a relay outage waits; what can never be delivered is parked."""
        from shared.notify import NotifyError
        from shared.notify.errors import DeliveryError
        from shared.storage.idempotency import AlreadyInProgress

        try:
            return await send
        except AlreadyInProgress as exc:
            self._defer(queue, env, str(exc), min(exc.retry_after.total_seconds() + 2, 30.0))
            return None
        except DeliveryError as exc:
            if exc.retryable:
                self._defer(queue, env, f"delivery failed: {exc}")
                return None
            reason = f"not deliverable: {exc}"
        except NotifyError as exc:
            reason = f"cannot render: {exc}"
        self.world.ctx.deadletters.put(queue, encode_body(env, "json"), reason, 1)
        return None

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
