"""The authenticated session to one workspace: base URL and token checks, bearer auth, the pooled connection,
request paths, and what a 401/403 means for the operator.

The access token never leaves the request headers: it is not in any message, log line or repr. No Dagster here.
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

import requests
import requests.auth
from requests.adapters import HTTPAdapter

from intercom_assets.intercom.errors import IntercomAuthError, IntercomConfigError

# Intercom's data regions (US, EU, Australia); anything else is a typo or a wrong region.
REGION_HOSTS = ("api.intercom.io", "api.eu.intercom.io", "api.au.intercom.io")

# The permission (Developer Hub > Authentication) each family of endpoints needs, by its first path word.
PERMISSIONS = {
    "admins": "'Read admins' (and for activity logs: 'Read admin activity logs')",
    "teams": "'Read admins'",
    "contacts": "'Read and list users and companies'",
    "companies": "'Read and list users and companies'",
    "segments": "'Read one user and one company'",
    "tags": "'Read tags'",
    "data_attributes": "'Read data attributes'",
    "conversations": "'Read conversations'",
    "tickets": "'Read tickets'",
    "ticket_types": "'Read tickets'",
    "ticket_states": "'Read tickets'",
    "articles": "'Read articles'",
    "help_center": "'Read help center'",
    "news": "'Read news'",
    "subscription_types": "'Read subscription types'",
    "away_status_reasons": "'Read admins'",
}


class BearerAuth(requests.auth.AuthBase):
    """Sets the Authorization header per request; as session auth it also keeps ~/.netrc from replacing it."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(token=[hidden])"


def permission_for(endpoint: str) -> str:
    """The Developer Hub permission an endpoint needs, e.g. "'Read tickets'" for ``POST /tickets/search``."""
    path = endpoint.split(" ", 1)[-1].strip("/")
    return PERMISSIONS.get(path.split("/", 1)[0], "read access to this resource")


def validate_base_url(base_url: str) -> str:
    """The base URL without a trailing slash; refuses what would leak the token or reach the wrong region."""
    if not isinstance(base_url, str) or not base_url.strip():
        raise IntercomConfigError("base_url is empty")
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise IntercomConfigError("base_url must be an http(s) URL with a host, e.g. https://api.intercom.io")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise IntercomConfigError("base_url must not contain credentials, a query or a fragment")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise IntercomConfigError(
            f"refusing plain http:// to {parts.hostname}: the access token would travel in clear text; use https://"
        )
    if not is_loopback(parts.hostname) and parts.hostname.lower() not in REGION_HOSTS:
        raise IntercomConfigError(
            f"{parts.hostname} is not an Intercom region's API host: use one of "
            + ", ".join(f"https://{host}" for host in REGION_HOSTS)
            + " (the region your workspace is hosted in)"
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine (the only place plain http:// and non-Intercom hosts are allowed)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_token(token: str) -> str:
    """The stripped token; refuses one that is empty or could not travel in a header."""
    if not isinstance(token, str) or not token.strip():
        raise IntercomConfigError("the Intercom access token is empty: set INTERCOM_ACCESS_TOKEN")
    token = token.strip()
    if any(ord(ch) < 0x21 or ord(ch) > 0x7E for ch in token):
        # requests would echo the bad header value, token included, in its own exception.
        raise IntercomConfigError("the Intercom access token contains whitespace or non-ASCII characters")
    return token


def open_session(base_url: str, auth: BearerAuth, api_version: str, max_concurrency: int) -> requests.Session:
    """A pooled session for one host: no redirects or urllib3 retries of its own (the transport decides)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max_concurrency + 2, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.auth = auth
    # The environment's proxy and CA bundle, resolved once for the one host this client talks to: requests
    # would look them up again on every request (scanning os.environ), a tenth of a request's CPU.
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False
    session.headers.update({
        "Intercom-Version": api_version,
        "Accept": "application/json",
        "User-Agent": "intercom-assets (python-requests)",
    })
    return session


def endpoint_template(method: str, path: str) -> str:
    """``GET /companies/6762f0…/segments`` -> ``GET /companies/{id}/segments``: no ids in stats or logs.

    Intercom's own path words contain no digits, while its ids (numeric or hex) always do.
    """
    segments = ["{id}" if any(ch.isdigit() for ch in seg) else seg for seg in path.split("/")]
    return f"{method} {'/'.join(segments)}"


def check_path(path: str) -> None:
    """Refuse anything but an absolute API path: a query, '..' or '//' could send the token elsewhere."""
    if (not isinstance(path, str) or not path.startswith("/") or path.startswith("//")
            or any(ch in path for ch in "?#\\ \t\r\n") or "/../" in f"{path}/"):
        raise ValueError(f"path must be an absolute API path without query, e.g. '/admins'; got {path!r}")


def auth_error(base_url: str, endpoint: str, status: int, code: str | None, message: str) -> IntercomAuthError:
    """The 401/403 error with what the operator has to fix: the token, the region, the plan or a permission."""
    if status == 401:
        hint = ("the access token is invalid or revoked: check INTERCOM_ACCESS_TOKEN, and that the base "
                f"URL's region ({urlsplit(base_url).hostname}; api / api.eu / api.au.intercom.io) "
                "matches the workspace's region")
    elif code == "api_plan_restricted":
        hint = (f"the workspace's Intercom plan does not include {endpoint}: upgrade the plan, or leave the "
                "tables it feeds out of INTERCOM_TABLES")
    else:
        hint = (f"the app may not call {endpoint}: grant it {permission_for(endpoint)} in the Developer Hub "
                "(your app > Configure > Authentication), or leave the tables it feeds out of INTERCOM_TABLES")
    return IntercomAuthError(endpoint, status, code, f"{message}. {hint}")
