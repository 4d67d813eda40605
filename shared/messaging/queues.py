"""Every queue the app uses, in one place. Function bindings, infra and producers read these names."""

from enum import StrEnum


class Queue(StrEnum):
    """Queue names (Azure queue names: lowercase letters, digits and dashes)."""

    PAYMENT_EVENTS = "payment-events"  # billing / ERP / CRM -> ledger
    SWEEP_SHARDS = "sweep-shards"  # collections sweep fan-out: one message per shard of customers
    ENFORCEMENT = "enforcement-actions"  # suspend / reactivate subscriptions in Partner Center
    NOTIFICATIONS = "notifications"  # customer notices and team alerts
    SERVICE_REQUESTS = "service-requests"  # requests to 21Vianet support
    FRAUD_SCAN = "fraud-scan"  # usage scan work items

    @property
    def poison(self) -> str:
        """Where the Functions host moves a message after maxDequeueCount failures."""
        return f"{self.value}-poison"
