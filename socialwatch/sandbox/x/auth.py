"""Who is calling the X API: OAuth 2.0 bearer tokens (user context or app-only) and OAuth 1.0a signatures.

An OAuth 1.0a request is checked the way X checks it: HMAC-SHA1 over the method, the URL
the client meant (``api.twitter.com`` or ``api.x.com``, before the transport pointed it at
the sandbox) and every query, form and ``oauth_*`` parameter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from urllib.parse import quote, unquote, urlencode

from socialwatch.sandbox.http import Request
from socialwatch.sandbox.x.model import XCredentials


def authenticate(req: Request, creds: XCredentials) -> str | None:
    """ "user", "app" or None (401)."""
    header = req.headers.get("authorization") or ""
    token = req.bearer
    if token is not None:
        if hmac.compare_digest(token, creds.bearer_token):
            return "user"
        if hmac.compare_digest(token, creds.app_bearer_token):
            return "app"
        return None
    if header.startswith("OAuth "):
        return "user" if oauth1_valid(req, header, creds) else None
    return None


def oauth1_valid(req: Request, header: str, creds: XCredentials) -> bool:
    """Whether an ``Authorization: OAuth ...`` header is signed with the sandbox's consumer and token secrets."""
    from oauthlib.oauth1.rfc5849 import signature

    params = {key: unquote(value) for key, value in re.findall(r'(\w+)="([^"]*)"', header)}
    if params.get("oauth_consumer_key") != creds.consumer_key or params.get("oauth_token") != creds.access_token:
        return False
    provided = params.get("oauth_signature", "")
    if params.get("oauth_signature_method", "HMAC-SHA1") != "HMAC-SHA1":
        return False
    query = urlencode([(key, value) for key, values in req.query.items() for value in values])
    content_type = (req.headers.get("content-type") or "").lower()
    body = req.body.decode("utf-8", "replace") if "application/x-www-form-urlencoded" in content_type else None
    collected = signature.collect_parameters(uri_query=query, body=body, headers={"Authorization": header})
    normalized = signature.normalize_parameters(collected)
    host = req.headers.get("host") or "127.0.0.1"
    # The client signed the URL it meant (api.twitter.com) before the transport rewrote it.
    for base in ("https://api.twitter.com", "https://api.x.com", f"http://{host}"):
        base_string = signature.signature_base_string(
            req.method, signature.base_string_uri(base + req.path), normalized
        )
        key = f"{quote(creds.consumer_secret, safe='~')}&{quote(creds.access_token_secret, safe='~')}"
        expected = base64.b64encode(hmac.new(key.encode(), base_string.encode(), hashlib.sha1).digest()).decode()
        if hmac.compare_digest(expected, provided):
            return True
    return False
