"""A Partner Center sandbox on loopback: the same REST API over HTTPS, with an Entra-like
token endpoint, paging, ETags, documented errors, throttling, fault injection and a call log.

    from devtools.sandbox import Sandbox, SandboxConfig
    with Sandbox(SandboxConfig(customers=50)).start() as sb:
        ...  # sb.base_url, sb.authority_host, sb.ca_pem_path, sb.tenant_id, sb.client_id, sb.client_secret
"""

from devtools.sandbox.config import FaultConfig, SandboxConfig
from devtools.sandbox.generator import MisuseTruth, Portfolio, generate_portfolio
from devtools.sandbox.server import Sandbox

__all__ = ["FaultConfig", "MisuseTruth", "Portfolio", "Sandbox", "SandboxConfig", "generate_portfolio"]
