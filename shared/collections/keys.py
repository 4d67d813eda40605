"""One typed value for the business key of a collections action (idempotency, approvals, audit).

Keys used to be built and taken apart by string splitting in several services. ``ActionKey`` holds the parts
(customer, case or anchor, stage, kind, generation, run, request); ``str()`` produces exactly the strings
stored so far, and ``ActionKey.parse`` is the one place that reads such a string back:

- ``{case}:{stage}:{kind}``, outside a case ``{customer}:{anchor}:{stage}:{kind}``: the engine's notices and
  suspensions (``{case}`` is ``{customer}/{opened}``);
- ``{case}:reactivate``: the engine's reactivation;
- ``...:g{n}``: the same action as enforcement or approval request, in the n-th generation (how many times
  the customer's non-payment suspensions were lifted), so a second suspension in one case is a new action;
- ``{customer}:reactivate:g{n}``: the one reactivation per lift, whichever path asks for it first;
- ``run:{run id}``: the approval of a halted sweep run; ``manual:{customer}:{request id}``: an operator's action.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

KeyKind = Literal["notify_customer", "notify_team", "suspend", "reactivate", "run", "manual"]
STAGED: frozenset[str] = frozenset({"notify_customer", "notify_team", "suspend"})
_GENERATION = re.compile(r"g(\d+)")


class ActionKey(NamedTuple):
    """Immutable (a tuple: the engine builds one per notice and suspension of every evaluation)."""

    kind: KeyKind
    customer_id: str
    case_id: str | None = None  # within a case
    anchor: str | None = None  # outside a case: the due date the stage is counted from ("None" if none)
    stage_id: str | None = None  # notices and suspensions
    generation: int | None = None  # enforcement and approval requests
    run_id: str | None = None  # a halted sweep run
    request_id: str | None = None  # an operator's manual action

    @classmethod
    def for_stage(cls, kind: KeyKind, customer_id: str, stage_id: str, *, case_id: str | None = None,
                  anchor: object = None) -> ActionKey:
        """A notice or suspension of a stage: within ``case_id``, or counted from ``anchor`` outside a case."""
        return cls(kind=kind, customer_id=customer_id, case_id=case_id, stage_id=stage_id,
                   anchor=None if case_id is not None else str(anchor))

    @classmethod
    def reactivation(cls, customer_id: str, generation: int | None = None, *,
                     case_id: str | None = None) -> ActionKey:
        """The engine's reactivation within a case, or the enforcement request of generation ``n``."""
        return cls(kind="reactivate", customer_id=customer_id, case_id=case_id, generation=generation)

    @classmethod
    def for_run(cls, run_id: str) -> ActionKey:
        return cls(kind="run", customer_id="*", run_id=run_id)

    @classmethod
    def manual(cls, customer_id: str, request_id: str) -> ActionKey:
        return cls(kind="manual", customer_id=customer_id, request_id=request_id)

    def at(self, generation: int) -> ActionKey:
        """This action as the request of one generation."""
        return self._replace(generation=generation)

    @property
    def action(self) -> ActionKey:
        """The engine's action this request carries out (the key without its generation)."""
        return self._replace(generation=None)

    def __str__(self) -> str:
        if self.kind == "run":
            return f"run:{self.run_id}"
        if self.kind == "manual":
            return f"manual:{self.customer_id}:{self.request_id}"
        if self.case_id is not None:
            parts = [self.case_id]
        elif self.anchor is not None:
            parts = [self.customer_id, self.anchor]
        else:
            parts = [self.customer_id]
        if self.kind in STAGED:
            parts.append(self.stage_id or "")
        parts.append(self.kind)
        if self.generation is not None:
            parts.append(f"g{self.generation}")
        return ":".join(parts)

    @classmethod
    def parse(cls, key: str) -> ActionKey:
        """The key a string names (every form ``str()`` produces); ValueError for anything else."""
        if key.startswith("run:") and len(key) > 4:
            return cls.for_run(key[4:])
        if key.startswith("manual:"):
            customer, sep, request = key[7:].rpartition(":")
            if sep and customer and request:
                return cls.manual(customer, request)
        parts = key.split(":")
        generation = None
        found = _GENERATION.fullmatch(parts[-1])
        if found and len(parts) > 2:
            generation = int(found.group(1))
            parts.pop()
        kind = parts.pop()
        if kind == "reactivate":
            scope = ":".join(parts)
            if not scope:
                raise ValueError(f"not an action key: {key!r}")
            if "/" in scope:
                return cls.reactivation(scope.split("/", 1)[0], generation, case_id=scope)
            return cls.reactivation(scope, generation)
        if kind not in STAGED or len(parts) < 2 or not all(parts):
            raise ValueError(f"not an action key: {key!r}")
        stage = parts.pop()
        if len(parts) == 1:  # a case: "{customer}/{opened}"
            made = cls.for_stage(kind, parts[0].split("/", 1)[0], stage, case_id=parts[0])  # type: ignore[arg-type]
        else:
            made = cls.for_stage(kind, ":".join(parts[:-1]), stage, anchor=parts[-1])  # type: ignore[arg-type]
        return made._replace(generation=generation)
