"""Who is acting and what they may do: pure rules over request headers and the app's environment.

In Azure, App Service Authentication (Easy Auth) with Microsoft Entra ID (operated by 21Vianet) signs people
in and forwards ``x-ms-client-principal`` (base64 JSON with the token's claims; Entra app roles arrive as
``roles`` claims). The platform strips that header from what clients send, so it is trusted only when the app
really runs behind it (``WEBSITE_AUTH_ENABLED=True``, set by the platform) or locally when the development
runner produced it from its own sign-in page (``CSPGUARD_LOCAL_SIGNIN``, set by the runner, ignored on App
Service). Everything else (a principal header a client made up, a body naming someone) is ignored.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.permissions import GRANTS, Permission, Role  # re-exported: the auth vocabulary

PRINCIPAL_HEADER = "x-ms-client-principal"
LOCAL_SIGNIN_SETTING = "CSPGUARD_LOCAL_SIGNIN"
ROLE_CLAIMS = ("roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
NAME_CLAIMS = ("preferred_username", "upn", "email", "name",
               "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name")
APP_CLAIMS = ("azp", "appid")  # an application calling with a client-credentials token has no user name


Source = Literal["entra", "local-signin", "local-header", "system-key"]


class Principal(BaseModel):
    """A person or system the platform (or, locally, the runner) vouches for."""

    model_config = ConfigDict(frozen=True)

    name: str
    roles: frozenset[Role]
    source: Source

    @property
    def actor(self) -> str:
        """The audit name: ``operator:<name>`` for people, ``system:<name>`` for key holders."""
        return f"system:{self.name}" if self.source == "system-key" else f"operator:{self.name}"

    @property
    def local(self) -> bool:
        return self.source in ("local-signin", "local-header")

    def can(self, permission: Permission) -> bool:
        if self.source == "system-key":  # a function key is for system ingress only
            return permission is Permission.INGEST
        return any(permission in GRANTS[r] for r in self.roles)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes")


def behind_easy_auth(env: Mapping[str, str]) -> bool:
    return _truthy(env.get("WEBSITE_AUTH_ENABLED"))


def on_app_service(env: Mapping[str, str]) -> bool:
    return bool(env.get("WEBSITE_INSTANCE_ID") or env.get("WEBSITE_SITE_NAME"))


def local_signin(env: Mapping[str, str]) -> bool:
    """The development runner's sign-in is in force (never on App Service, whatever the settings say)."""
    return _truthy(env.get(LOCAL_SIGNIN_SETTING)) and not on_app_service(env)


def encode_principal(name: str, roles: list[str] | tuple[str, ...], auth_typ: str = "aad") -> str:
    """The header value Easy Auth sends (the runner's sign-in and tests build the same)."""
    claims = [{"typ": "preferred_username", "val": name}, {"typ": "name", "val": name},
              *({"typ": "roles", "val": r} for r in roles)]
    doc = {"auth_typ": auth_typ, "claims": claims, "name_typ": "preferred_username", "role_typ": "roles"}
    return base64.b64encode(json.dumps(doc).encode("utf-8")).decode("ascii")


def decode_principal(value: str) -> tuple[str, frozenset[Role]] | None:
    """(name, known roles) from an ``x-ms-client-principal`` value; None when unreadable or nameless."""
    try:
        doc = json.loads(base64.b64decode(value, validate=False))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("claims"), list):
        return None
    claims = [c for c in doc["claims"] if isinstance(c, dict) and isinstance(c.get("val"), str)]
    role_types = {*ROLE_CLAIMS, str(doc.get("role_typ") or "roles")}
    name_types = (str(doc.get("name_typ") or ""), *NAME_CLAIMS)
    name = next((c["val"] for t in name_types for c in claims if c.get("typ") == t and c["val"].strip()), None)
    if not name:
        app = next((c["val"] for t in APP_CLAIMS for c in claims if c.get("typ") == t and c["val"].strip()), None)
        name = f"app:{app}" if app else None
    if not name:
        return None
    known = {r.value for r in Role}
    roles = frozenset(Role(c["val"].lower()) for c in claims
                      if c.get("typ") in role_types and c["val"].lower() in known)
    return name.strip()[:200], roles


def principal_from(headers: Mapping[str, str], env: Mapping[str, str]) -> Principal | None:
    """The vouched principal of a request to a person-facing route, or None (the caller answers 401)."""
    lower = {k.lower(): v for k, v in headers.items()}
    local = local_signin(env)
    header = lower.get(PRINCIPAL_HEADER)
    if header and (behind_easy_auth(env) or local):
        decoded = decode_principal(header)
        if decoded is not None:
            return Principal(name=decoded[0], roles=decoded[1], source="local-signin" if local else "entra")
    actor = (lower.get("x-actor") or "").strip()
    if local and actor:  # scripts and tests on the local stack: a full-rights local identity
        return Principal(name=actor[:200], roles=frozenset({Role.ADMIN}), source="local-header")
    return None


def system_principal(headers: Mapping[str, str], env: Mapping[str, str]) -> Principal | None:
    """Who sent a call to a function-key route (the host checked the key): a vouched person if present,
    else the system named by ``X-Source-System`` (or ``X-Actor``); None when it names nobody."""
    person = principal_from(headers, env)
    lower = {k.lower(): v for k, v in headers.items()}
    system = (lower.get("x-source-system") or "").strip()
    # a vouched person wins; a local X-Actor header does not hide the system a call says it comes from
    if person is not None and (person.source != "local-header" or not system):
        return person
    name = (system or lower.get("x-actor") or "").strip()
    if not name:
        return None
    return Principal(name=name[:200], roles=frozenset(), source="system-key")


def same_origin(headers: Mapping[str, str]) -> bool:
    """False for a browser request another site started (the session cookie would ride along): browsers send
    ``Sec-Fetch-Site`` and ``Origin`` on such requests; scripts send neither and are not affected."""
    from urllib.parse import urlsplit

    lower = {k.lower(): v for k, v in headers.items()}
    if lower.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = lower.get("origin")
    if not origin:
        return True
    host = (lower.get("x-forwarded-host") or lower.get("host") or "").split(",")[0].strip().lower()
    return urlsplit(origin).netloc.lower() == host
