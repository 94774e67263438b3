"""HTTP transport for the platform clients: host rewriting (to reach a sandbox) and enforced timeouts.

tweepy hard-codes ``https://api.twitter.com`` and never sets a timeout; facebook-sdk reads
``https://graph.facebook.com`` and rejects current Graph versions in its constructor. A
``requests`` adapter mounted on the client's session fixes all of that without touching
the libraries: it rewrites configured origins and bounds every request.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)

X_ORIGINS = ("https://api.twitter.com", "https://api.x.com")
GRAPH_ORIGIN = "https://graph.facebook.com"
DEFAULT_TIMEOUT = 10.0
DEFAULT_GRAPH_VERSION = "v21.0"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class RewritingAdapter(HTTPAdapter):
    """Sends ``https://origin/...`` to ``rewrite[origin]/...`` and gives every request a timeout."""

    def __init__(
        self, rewrite: Mapping[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any
    ) -> None:
        self.rewrite = {
            _origin(src): dst.rstrip("/")
            for src, dst in (rewrite or {}).items()
            if dst and dst.rstrip("/").lower() != _origin(src)
        }
        self.timeout = timeout
        super().__init__(**kwargs)

    def rewrite_url(self, url: str) -> str | None:
        """The rewritten URL, or None when ``url`` is not under a rewritten origin."""
        parts = urlsplit(url)
        target = self.rewrite.get(f"{parts.scheme}://{parts.netloc}".lower())
        if target is None:
            return None
        rest = url[len(parts.scheme) + 3 + len(parts.netloc) :]
        return target + rest

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        proxies = dict(proxies) if proxies is not None else None
        rewritten = self.rewrite_url(request.url or "")
        if rewritten is not None:
            request.url = rewritten
            # Proxies picked for the original host must not capture the loopback sandbox.
            proxies = {}
        if timeout is None or timeout == (None, None):
            timeout = self.timeout
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)


def make_session(
    rewrite: Mapping[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT, retries: int = 0
) -> requests.Session:
    """A session whose every request is bounded by ``timeout`` seconds and rewritten per ``rewrite``.

    ``retries`` retries only failures to connect: a request that may have reached the
    platform is never resent here, so a reply is posted at most once.
    """
    session = requests.Session()
    # read=False re-raises read errors untouched, so timeouts surface as requests.ReadTimeout.
    retry = Retry(
        total=retries, connect=retries, read=False, status=0, other=0, backoff_factor=0.2, raise_on_status=False
    )
    adapter = RewritingAdapter(rewrite, timeout, max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def x_rewrite(api_base: str | None) -> dict[str, str]:
    """Rewrite rules sending both X API origins to ``api_base`` (none for the real API)."""
    if not api_base or (_origin(api_base) in X_ORIGINS and urlsplit(api_base).path.strip("/") == ""):
        return {}
    return {origin: api_base.rstrip("/") for origin in X_ORIGINS}


def graph_rewrite(graph_base: str | None) -> dict[str, str]:
    if not graph_base or graph_base.rstrip("/") == GRAPH_ORIGIN:
        return {}
    return {GRAPH_ORIGIN: graph_base.rstrip("/")}


def install_tweepy_session(
    client: Any, api_base: str | None = None, timeout: float = DEFAULT_TIMEOUT, retries: int = 0
) -> Any:
    """Give a ``tweepy.Client`` a session that reaches ``api_base`` and never waits forever."""
    client.session = make_session(x_rewrite(api_base), timeout, retries)
    return client


def appsecret_proof(access_token: str, app_secret: str) -> str:
    """HMAC-SHA256 of the token keyed by the app secret, as Graph expects it."""
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


def make_graph_api(
    access_token: str,
    graph_base: str | None = None,
    version: str = DEFAULT_GRAPH_VERSION,
    timeout: float = DEFAULT_TIMEOUT,
    app_secret: str | None = None,
    retries: int = 0,
) -> Any:
    """A ``facebook.GraphAPI`` bound to ``graph_base`` with a current ``version``.

    The version is set after construction because facebook-sdk 3.1 only accepts versions
    up to 3.1 in its constructor. With ``app_secret``, every call carries ``appsecret_proof``.
    """
    import facebook

    session = make_session(graph_rewrite(graph_base), timeout, retries)
    cls = facebook.GraphAPI if app_secret is None else _proof_graph_class()
    graph = cls(access_token=access_token, timeout=timeout, session=session)
    graph.version = version if version.startswith("v") else f"v{version}"
    if app_secret is not None:
        graph.app_secret = app_secret
    return graph


_PROOF_CLASS: type | None = None


def _proof_graph_class() -> type:
    """A GraphAPI subclass adding ``appsecret_proof`` to every request (facebook-sdk has no option for it)."""
    global _PROOF_CLASS
    if _PROOF_CLASS is None:
        import facebook

        class ProofGraphAPI(facebook.GraphAPI):  # type: ignore[misc]
            app_secret: str

            def request(
                self,
                path: str,
                args: dict[str, Any] | None = None,
                post_args: dict[str, Any] | None = None,
                files: Any = None,
                method: str | None = None,
            ) -> Any:
                args = dict(args or {})
                token = args.get("access_token") or (post_args or {}).get("access_token") or self.access_token
                if isinstance(token, list):
                    token = token[-1]
                if token:
                    args["appsecret_proof"] = appsecret_proof(str(token), self.app_secret)
                return super().request(path, args, post_args, files, method)

        _PROOF_CLASS = ProofGraphAPI
    return _PROOF_CLASS
