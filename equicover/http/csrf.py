"""Anti-forgery tokens for what a browser posts (synchroniser tokens bound to the browser's cookie).

Every state-changing form carries a hidden field whose value is derived from a secret only the
browser holds: the session cookie once signed in, and before that a random pre-session cookie
(``equicover_form``) handed out with the first page. A forged page on another site can make the
browser send the cookie (where ``SameSite`` does not stop it) but cannot read it, so it cannot
write the field. The token is an HMAC of the cookie, so the page's HTML never shows the cookie
itself, and signing in (a new session cookie) changes every token at once.

A script that calls the JSON API with the session cookie rather than a bearer token sends the same
token in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

FORM_COOKIE = "equicover_form"
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PURPOSE = b"equicover: a form posted by this browser"


def token_for(cookie_value: str) -> str:
    """The token a form of the browser holding ``cookie_value`` must send back."""
    return hmac.new(cookie_value.encode(), _PURPOSE, hashlib.sha256).hexdigest()


def token_matches(cookie_value: str | None, presented: str | None) -> bool:
    """Whether ``presented`` is the token of ``cookie_value`` (compared in constant time)."""
    if not cookie_value or not presented:
        return False
    return hmac.compare_digest(token_for(cookie_value), presented)


def new_form_cookie() -> str:
    """A pre-session secret for a browser that has not signed in."""
    return secrets.token_urlsafe(32)
