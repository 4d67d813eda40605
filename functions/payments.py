"""Payment events in: the payment-events queue, and the same events over HTTP for systems without queues."""

from __future__ import annotations

import azure.functions as func

from functions._http import error, handle_errors, ingress_principal, json_body, json_response
from functions._queue import receive, received
from shared.messaging import Queue

bp = func.Blueprint()


@bp.queue_trigger(arg_name="msg", queue_name=Queue.PAYMENT_EVENTS.value, connection="AzureWebJobsStorage")
def payment_event(msg: func.QueueMessage) -> None:
    from shared.context import get_context
    from shared.observability import correlation_scope
    from shared.services.payments import EVENT_MODELS, handle_event

    parsed = receive(Queue.PAYMENT_EVENTS, msg, EVENT_MODELS)
    if parsed is None:
        return
    envelope, event = parsed
    with correlation_scope(envelope.correlation_id) as cid:
        handle_event(get_context(), received(Queue.PAYMENT_EVENTS, msg, envelope), event,  # type: ignore[arg-type]
                     correlation_id=cid)


@bp.route(route="payment-events", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)  # system ingress: key
def post_payment_events(req: func.HttpRequest) -> func.HttpResponse:
    """One event object or a JSON array of them (at most 500). All are validated before any is accepted."""
    from shared.context import get_context
    from shared.services.payments import InvalidEvent, accept_events, parse_payment_event

    sender, refused = ingress_principal(req)
    if sender is None:
        return refused  # type: ignore[return-value]
    data, bad = json_body(req)
    if bad:
        return bad
    items = data if isinstance(data, list) else [data]
    if not items or len(items) > 500:
        return error(400, "send one event object or an array of 1 to 500 events")
    events, problems = [], []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append({"index": i, "error": "an event must be a JSON object"})
            continue
        try:
            events.append(parse_payment_event(str(item.get("type", "")), item))
        except InvalidEvent as exc:
            problems.append({"index": i, "event_id": item.get("event_id"), "error": str(exc)})
    if problems:
        return error(400, f"{len(problems)} of {len(items)} events are invalid; none was accepted",
                     problems=problems)

    def run() -> func.HttpResponse:  # a restated payment_id with other content: PaymentConflicts, 409 naming each
        ids = accept_events(get_context(), events, sender.actor, req.headers.get("x-correlation-id"))
        return json_response({"accepted": ids}, 202)

    return handle_errors(run)
