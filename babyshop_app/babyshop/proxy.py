"""What the HTTPS proxy in front of gunicorn tells the app about a request.

Caddy replaces any X-Forwarded-For a client sends with the address the
connection came from, so behind it the last entry is the client's own
address. The header is believed only from peers in FORWARDED_ALLOW_IPS.
"""

import ipaddress

from django.conf import settings

FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_FORWARDED")


def came_through_proxy(request):
    """True when the request was relayed by a proxy, not sent from inside the stack."""
    return any(header in request.META for header in FORWARDED_HEADERS)


def from_trusted_proxy(request):
    """True when a proxy in FORWARDED_ALLOW_IPS relayed the request: then
    what it says about the request (X-Forwarded-For, X-Request-ID) stands."""
    return came_through_proxy(request) and _trusted(request.META.get("REMOTE_ADDR", ""))


def _trusted(peer):
    if settings.FORWARDED_ALLOW_IPS is None:
        return True
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in settings.FORWARDED_ALLOW_IPS)


def client_ip(request):
    """The client's address: the proxy's X-Forwarded-For from a trusted peer, else the peer."""
    peer = request.META.get("REMOTE_ADDR", "")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and _trusted(peer):
        return forwarded.rsplit(",", 1)[-1].strip()
    return peer
