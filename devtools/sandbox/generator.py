"""A realistic CSP portfolio, deterministic from a seed, with misuse ground truth.

Customers and subscriptions are materialised (small: ~100 bytes each); daily usage is not.
Each usage value is a pure function of (subscription key, day, line), computed with a
counter-based hash, so any page of the partner-wide usage stream can be produced on demand
and 20,000 customers x 90 days stream page by page in constant memory.

Dataclasses with slots rather than pydantic models: generating 20,000 customers must take
seconds, and these records never cross a trust boundary (the HTTP layer validates inputs).
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property, lru_cache
from itertools import islice

from devtools.sandbox import catalog as cat
from devtools.sandbox.config import DEFAULT_TENANT_ID
from shared.clock import utcnow

MISUSE_KINDS = ("gpu_spike", "new_region_burst", "crypto_sustained", "subscription_burst")
LOOKALIKE_KINDS = ("month_end_peak", "steady_growth", "planned_migration")
STATUSES = (
    ("active", 0.90),
    ("suspended", 0.04),
    ("expired", 0.02),
    ("disabled", 0.01),
    ("deleted", 0.02),
    ("pending", 0.01),
)
Cursor = tuple[int, int, int]  # (day, index into usage-bearing subscriptions, line index)


@dataclass(slots=True)
class Customer:
    id: str
    company_name: str
    country: str
    city: str
    default_domain: str


@dataclass(slots=True)
class Entitlement:
    """An Azure subscription under an Azure plan (``entitlementId`` in usage line items)."""

    id: str
    friendly_name: str
    status: str = "active"
    pending: str | None = None  # status an accepted cancel/reactivate reaches at ``due`` (asynchronous)
    due: float = 0.0  # store clock (monotonic seconds)


@dataclass(frozen=True, slots=True)
class Line:
    """One metered resource of a subscription; ``scale`` multiplies the meter's typical day."""

    meter: int
    region: int
    scale: float
    entitlement: str
    start_day: int = 0
    shape: str = "normal"  # normal | flat (24x7, low noise) | ramp_up | ramp_down
    ramp_start: int = 0


@dataclass(slots=True)
class UsageProfile:
    key: int
    lines: list[Line]
    weekly: bool = True
    pattern: str = ""  # "" | "month_end_peak" | "steady_growth"
    first_day: int = 0


@dataclass(slots=True)
class Subscription:
    id: str
    customer_id: str
    offer: cat.Offer
    status: str
    quantity: int
    creation: date
    friendly_name: str
    parent_id: str | None = None
    auto_renew: bool = True
    entitlements: list[Entitlement] = field(default_factory=list)
    usage: UsageProfile | None = None


@dataclass(frozen=True, slots=True)
class MisuseTruth:
    kind: str
    customer_id: str
    subscription_id: str
    start_day: int


@dataclass
class Portfolio:
    """The generated world. ``misuse`` and ``lookalikes`` are keyed by customer id."""

    seed: int
    start: date
    days: int
    customers: list[Customer]
    subscriptions: list[Subscription]
    misuse: dict[str, MisuseTruth]
    lookalikes: dict[str, str]
    partner_id: str = DEFAULT_TENANT_ID
    currency: str = "CNY"

    @cached_property
    def _usage_subs(self) -> list[Subscription]:
        return [s for s in self.subscriptions if s.usage is not None]

    @cached_property
    def _customers_by_id(self) -> dict[str, Customer]:
        return {c.id: c for c in self.customers}

    def add(self, customer: Customer, subscriptions: list[Subscription]) -> None:
        """Append a customer (tests, demo); existing usage cursors stay valid."""
        self.customers.append(customer)
        self.subscriptions.extend(subscriptions)
        self.__dict__.pop("_usage_subs", None)
        self.__dict__.pop("_customers_by_id", None)

    def iter_usage(self, cursor: Cursor = (0, 0, 0)) -> Iterator[tuple[Cursor, dict[str, object]]]:
        """Every usage line item from ``cursor`` on, day by day, each with its own cursor."""
        subs = self._usage_subs
        day0, sub0, line0 = cursor
        for day in range(day0, self.days):
            for si in range(sub0 if day == day0 else 0, len(subs)):
                sub = subs[si]
                prof = sub.usage
                assert prof is not None
                if day < prof.first_day:
                    continue
                for li in range(line0 if (day == day0 and si == sub0) else 0, len(prof.lines)):
                    qty = quantity(prof, prof.lines[li], li, day, self.start)
                    if qty > 0:
                        yield (day, si, li), self._line_item(sub, prof.lines[li], day, qty)

    def usage_page(self, cursor: Cursor | None, size: int) -> tuple[list[dict[str, object]], Cursor | None]:
        """One page of at most ``size`` items and the cursor of the next page (None at the end)."""
        taken = list(islice(self.iter_usage(cursor or (0, 0, 0)), size + 1))
        nxt = taken[size][0] if len(taken) > size else None
        return [item for _, item in taken[:size]], nxt

    def daily_totals(self, subscription_id: str) -> list[float]:
        """Pre-tax total per day for one subscription (ground truth for detector tests)."""
        sub = next(s for s in self._usage_subs if s.id == subscription_id)
        prof = sub.usage
        assert prof is not None
        out = []
        for day in range(self.days):
            total = 0.0
            if day >= prof.first_day:
                for li, line in enumerate(prof.lines):
                    total += round(
                        quantity(prof, line, li, day, self.start) * cat.ALL_METERS[line.meter].unit_price, 2
                    )
            out.append(round(total, 2))
        return out

    def _line_item(self, sub: Subscription, line: Line, day: int, qty: float) -> dict[str, object]:
        cust = self._customers_by_id[sub.customer_id]
        meter = cat.ALL_METERS[line.meter]
        location, region_name = cat.REGIONS[line.region]
        when = (self.start + timedelta(days=day)).isoformat() + "T00:00:00Z"
        rg = f"rg-{meter.service.split('.')[-1].lower()}-{location}"
        total = round(qty * meter.unit_price, 2)
        ent_name = next(
            (e.friendly_name for e in sub.entitlements if e.id == line.entitlement), sub.friendly_name
        )
        return {
            "partnerId": self.partner_id,
            "partnerName": "Sandbox CSP Partner",
            "customerId": cust.id,
            "customerName": cust.company_name,
            "customerDomainName": cust.default_domain,
            "customerCountry": cust.country,
            "mpnId": "6543210",
            "tier2MpnId": "",
            "invoiceNumber": "",
            "productId": "DZH318Z0BPS6" if sub.offer.kind == "azure_plan" else sub.offer.offer_id,
            "skuId": "0001",
            "availabilityId": "DZH318Z09V6F",
            "skuName": sub.offer.name,
            "productName": sub.offer.name,
            "publisherName": "Microsoft",
            "publisherId": "",
            "subscriptionId": sub.id,
            "subscriptionDescription": sub.friendly_name,
            "chargeStartDate": (self.start.replace(day=1)).isoformat() + "T00:00:00Z",
            "chargeEndDate": when,
            "usageDate": when,
            "meterType": meter.unit,
            "meterCategory": meter.category,
            "meterId": _meter_id(meter.name, location),
            "meterSubCategory": meter.subcategory,
            "meterName": meter.name,
            "meterRegion": region_name,
            "unitOfMeasure": meter.unit,
            "resourceLocation": location,
            "consumedService": meter.service,
            "resourceGroup": rg,
            "resourceUri": _resource_uri(line.entitlement, rg, meter, line.meter),
            "tags": "",
            "additionalInfo": "",
            "serviceInfo1": "",
            "serviceInfo2": "",
            "quantity": round(qty, 6),
            "unitType": meter.unit,
            "unitPrice": meter.unit_price,
            "effectiveUnitPrice": meter.unit_price,
            "billingPreTaxTotal": total,
            "billingCurrency": self.currency,
            "pricingPreTaxTotal": total,
            "pricingCurrency": self.currency,
            "entitlementId": line.entitlement,
            "entitlementDescription": ent_name,
            "pcToBCExchangeRate": 1,
            "pcToBCExchangeRateDate": self.start.isoformat() + "T00:00:00Z",
            "rateOfPartnerEarnedCredit": 0,
            "hasPartnerEarnedCredit": False,
            "rateOfCredit": 0,
            "creditType": "Credit Not Applied",
            "invoiceLineItemType": "usagelineitems",
            "billingProvider": "azure",
            "chargeType": "new",
            "attributes": {"objectType": "DailyRatedUsageLineItem"},
        }


_M64 = (1 << 64) - 1


@lru_cache(maxsize=256)
def _meter_id(name: str, location: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_OID, f"{name}|{location}"))


def _resource_uri(entitlement: str, rg: str, meter: cat.Meter, index: int) -> str:
    resource = meter.name.split("/")[0].replace(" ", "-").lower()
    prefix = f"/subscriptions/{entitlement}/resourceGroups/{rg}"
    return f"{prefix}/providers/{meter.service}/resources/{resource}-{index}"


def _mix(x: int) -> int:
    """splitmix64 finaliser: a fast, well-distributed counter-based hash."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def _gauss(key: int, day: int, line: int) -> float:
    """Approximately standard normal, from three 21-bit uniforms of one hash."""
    h = _mix(_mix(key + day) + line)
    s = (h & 0x1FFFFF) + ((h >> 21) & 0x1FFFFF) + ((h >> 42) & 0x1FFFFF)
    return (s / 0x1FFFFF - 1.5) * 2.0


def quantity(prof: UsageProfile, line: Line, li: int, day: int, start: date) -> float:
    """The consumed quantity of one line on one day: pure, so pages can be recomputed at will."""
    if day < line.start_day:
        return 0.0
    meter = cat.ALL_METERS[line.meter]
    when = start + timedelta(days=day)
    factor = 1.0
    if line.shape == "flat":
        factor *= math.exp(0.02 * _gauss(prof.key, day, li))
    else:
        factor *= math.exp(0.15 * _gauss(prof.key, day, li))
        if prof.weekly:
            factor *= (1.0, 1.0, 1.0, 1.0, 0.95, 0.7, 0.62)[when.weekday()]
    if line.shape == "ramp_up":
        factor *= min(1.0, (day - line.ramp_start + 1) / 10)
    elif line.shape == "ramp_down" and day >= line.ramp_start:
        factor *= max(0.05, 1 - (day - line.ramp_start + 1) / 10)
    if prof.pattern == "month_end_peak" and (when + timedelta(days=2)).month != when.month:
        factor *= 3.5
    elif prof.pattern == "steady_growth":
        factor *= 1.025**day
    return meter.daily_qty * line.scale * factor


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _status(rng: random.Random) -> str:
    return rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])[0]


def _customer(rng: random.Random, i: int, domain_suffix: str) -> Customer:
    w1, w2 = rng.choice(cat.WORDS), rng.choice(cat.WORDS)
    trade = rng.choice(cat.TRADES)
    if rng.random() < 0.97:
        country, city = "CN", rng.choice(cat.CITIES)
        name = f"{city} {w1} {trade} Co., Ltd."
    else:
        country, city, suffix = rng.choice(cat.FOREIGN)
        name = f"{w1} {w2} {trade} {suffix}"
    slug = f"{w1}{w2}{i}".lower()
    return Customer(_guid(rng), name, country, city, f"{slug}.{domain_suffix}")


def _azure_sub(
    rng: random.Random, cust: Customer, start: date, status: str, legacy: bool | None = None
) -> Subscription:
    legacy = rng.random() < 0.4 if legacy is None else legacy
    offer = cat.AZURE_LEGACY if legacy else cat.AZURE_PLAN
    sid = _guid(rng)
    sub = Subscription(
        sid, cust.id, offer, status, 1, start - timedelta(days=rng.randint(30, 1200)), offer.name
    )
    if legacy:
        entitlement_ids = [sid]
    else:
        # the first Azure subscription of an active plan is active (a plan with usage always has one), others
        # mostly; under a suspended/deleted/expired plan every one is disabled (Partner Center has no active
        # Azure subscription under a plan that is not active)
        for k in range(rng.randint(1, 3)):
            eid, draw = _guid(rng), rng.random()  # same draws, same order as before: portfolios stay as they were
            on = status == "active" and (draw < 0.85 or k == 0)
            sub.entitlements.append(Entitlement(eid, f"Azure subscription {k + 1}", "active" if on else "disabled"))
        entitlement_ids = [e.id for e in sub.entitlements]
    if status == "active":
        scale = math.exp(rng.gauss(0, 1.0))
        lines = [
            Line(
                m,
                rng.randrange(cat.HOME_REGIONS),
                scale * rng.uniform(0.3, 1.5),
                _running(sub, rng.choice(entitlement_ids)),
            )
            for m in rng.sample(cat.EVERYDAY, rng.randint(2, 4))
        ]
        sub.usage = UsageProfile(rng.getrandbits(63), lines, weekly=rng.random() < 0.7)
    return sub


def _running(sub: Subscription, entitlement_id: str) -> str:
    """Usage runs in active Azure subscriptions only: a disabled pick moves to the plan's first (active) one."""
    ent = next((e for e in sub.entitlements if e.id == entitlement_id), None)
    return entitlement_id if ent is None or ent.status == "active" else sub.entitlements[0].id


def _license_subs(rng: random.Random, cust: Customer, start: date) -> list[Subscription]:
    offer = rng.choice(cat.LICENSES)
    status = _status(rng)
    base = Subscription(
        _guid(rng),
        cust.id,
        offer,
        status,
        max(1, int(math.exp(rng.uniform(1, 6)))),
        start - timedelta(days=rng.randint(30, 1500)),
        offer.name,
        auto_renew=rng.random() < 0.8,
    )
    out = [base]
    if rng.random() < 0.3:
        addon = rng.choice(cat.ADDONS)
        a_status = status if status != "active" else ("suspended" if rng.random() < 0.1 else "active")
        out.append(
            Subscription(
                _guid(rng),
                cust.id,
                addon,
                a_status,
                base.quantity,
                base.creation,
                addon.name,
                parent_id=base.id,
            )
        )
    return out


def _inject_misuse(
    rng: random.Random,
    kind: str,
    cust: Customer,
    target: Subscription,
    days: int,
    start: date,
    subs: list[Subscription],
) -> MisuseTruth:
    prof = target.usage
    assert prof is not None
    lo = max(1, days // 3) if kind == "crypto_sustained" else max(1, days // 2)
    sday = min(days - 1, rng.randint(lo, max(lo, days - 2)))
    ent = prof.lines[0].entitlement
    home = prof.lines[0].region
    sub_id = target.id
    if kind == "gpu_spike":
        prof.lines.append(
            Line(cat.GPU_BASE + rng.randrange(len(cat.GPU)), home, rng.uniform(4, 16), ent, sday, "flat")
        )
    elif kind == "new_region_burst":
        region = rng.randrange(cat.HOME_REGIONS, len(cat.REGIONS))
        prof.lines.append(Line(6, region, rng.uniform(30, 80), ent, sday, "flat"))
        prof.lines.append(Line(2, region, rng.uniform(20, 60), ent, sday, "flat"))
    elif kind == "crypto_sustained":
        prof.lines.append(
            Line(
                cat.CRYPTO_BASE + rng.randrange(len(cat.CRYPTO)), home, rng.uniform(6, 20), ent, sday, "flat"
            )
        )
    else:  # subscription_burst: many new legacy Azure subscriptions within a few days, each running compute
        for k in range(rng.randint(5, 9)):
            created = min(days - 1, sday + k // 3)
            new = _azure_sub(rng, cust, start, "active", legacy=True)
            new.creation = start + timedelta(days=created)
            new.friendly_name = f"{cat.AZURE_LEGACY.name} {k + 2}"
            new.usage = UsageProfile(
                rng.getrandbits(63),
                [Line(6, home, rng.uniform(10, 20), new.id, created, "flat")],
                weekly=False,
                first_day=created,
            )
            subs.append(new)
            if k == 0:
                sub_id = new.id
    return MisuseTruth(kind, cust.id, sub_id, sday)


def _inject_lookalike(rng: random.Random, kind: str, target: Subscription, days: int) -> None:
    prof = target.usage
    assert prof is not None
    if kind in ("month_end_peak", "steady_growth"):
        prof.pattern = kind
        return
    sday = min(days - 1, rng.randint(max(1, days // 3), max(1, days - 5)))
    region = rng.randrange(cat.HOME_REGIONS, len(cat.REGIONS))
    old = list(prof.lines)
    prof.lines = [
        Line(ln.meter, ln.region, ln.scale, ln.entitlement, ln.start_day, "ramp_down", sday) for ln in old
    ]
    prof.lines += [Line(ln.meter, region, ln.scale, ln.entitlement, sday, "ramp_up", sday) for ln in old]


def generate_portfolio(
    seed: int,
    customers: int,
    subscriptions_per_customer: tuple[int, int] = (1, 4),
    days: int = 30,
    misuse_share: float = 0.02,
    lookalike_share: float = 0.03,
    start: date | None = None,
    *,
    partner_id: str = DEFAULT_TENANT_ID,
    currency: str = "CNY",
    domain_suffix: str = "partner.onmschina.cn",
) -> Portfolio:
    """Build a portfolio; same arguments -> same portfolio. ``start`` defaults to ``days`` ago,
    so the usage window ends yesterday (daily-rated usage lags about a day)."""
    rng = random.Random(seed)
    start = start or (utcnow().date() - timedelta(days=days))
    n_mis = math.ceil(customers * misuse_share) if misuse_share > 0 else 0
    n_look = math.ceil(customers * lookalike_share) if lookalike_share > 0 else 0
    n_mis = min(n_mis, customers)
    n_look = min(n_look, customers - n_mis)
    chosen = rng.sample(range(customers), n_mis + n_look)
    mis_kinds, look_kinds = list(MISUSE_KINDS), list(LOOKALIKE_KINDS)
    rng.shuffle(mis_kinds)
    rng.shuffle(look_kinds)
    special = {i: ("m", mis_kinds[k % len(mis_kinds)]) for k, i in enumerate(chosen[:n_mis])}
    special |= {i: ("l", look_kinds[k % len(look_kinds)]) for k, i in enumerate(chosen[n_mis:])}
    lo, hi = subscriptions_per_customer
    custs: list[Customer] = []
    subs: list[Subscription] = []
    misuse: dict[str, MisuseTruth] = {}
    lookalikes: dict[str, str] = {}
    for i in range(customers):
        cust = _customer(rng, i, domain_suffix)
        custs.append(cust)
        n = rng.randint(lo, hi)
        role = special.get(i)
        mine: list[Subscription] = []
        if role is not None or rng.random() < 0.7:
            mine.append(_azure_sub(rng, cust, start, "active" if role else _status(rng)))
        while len(mine) < n:
            if rng.random() < 0.45:
                mine.append(_azure_sub(rng, cust, start, _status(rng)))
            else:
                mine.extend(_license_subs(rng, cust, start))
        if role is not None:
            kind = role[1]
            if role[0] == "m":
                misuse[cust.id] = _inject_misuse(rng, kind, cust, mine[0], days, start, mine)
            else:
                _inject_lookalike(rng, kind, mine[0], days)
                lookalikes[cust.id] = kind
        subs.extend(mine)
    return Portfolio(seed, start, days, custs, subs, misuse, lookalikes, partner_id, currency)
