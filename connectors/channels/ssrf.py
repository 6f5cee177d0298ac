"""Server-side request forgery guard for webhook and Slack targets.

Whoever creates a subscription chooses the URL newswatch POSTs to. Without a check, that URL
could reach what only this machine can reach: a database's HTTP port on loopback, a service on
the private network, or the cloud metadata endpoint that hands out credentials. So a target is
resolved once, every address is checked, and the HTTP client (safe_http.py) connects to the
checked addresses only: a DNS answer that changes between check and connect (DNS rebinding)
cannot move the request. Redirects are checked the same way, hop by hop.

Refused: loopback, private, link-local, multicast, reserved, unspecified and other addresses
that are not globally routable, IPv4 addresses wrapped in IPv6 (::ffff:a.b.c.d, NAT64, 6to4)
judged by the IPv4 address inside, and cloud metadata endpoints. `alerts.allowed_networks`
lifts the refusal for the CIDRs it lists (tests use 127.0.0.0/8); a metadata endpoint is only
allowed when a listed network is exactly that one address, never by a wider range."""
from __future__ import annotations

import ipaddress
import json
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from .base import DeliveryError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Instance metadata services: a request there returns the machine's cloud credentials.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean
    "169.254.170.2",    # AWS ECS task credentials
    "fd00:ec2::254",    # AWS over IPv6
    "100.100.100.200",  # Alibaba Cloud
    "168.63.129.16",    # Azure wire server (a public address, so no class below catches it)
))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
SCHEMES = ("http", "https")


class RefusedURL(DeliveryError):
    """The target is not allowed; sending again cannot help, only a fix of the URL or the settings."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


@dataclass(frozen=True)
class CheckedURL:
    """A URL whose addresses all passed the check: connect to these, and to nothing else."""
    scheme: str
    host: str                    # as the URL names it (ASCII): the Host header and the TLS server name
    port: int
    target: str                  # path and query: what the request line asks for
    addresses: tuple[str, ...]   # resolved and allowed, in the resolver's order

    @property
    def origin(self) -> str:
        return _origin(self.scheme, self.host, self.port)


def _origin(scheme: str, host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" + (f":{port}" if port else "")


def safe_origin(url: str) -> str:
    """scheme://host:port of a URL, for logs and errors: a webhook URL's path or query may be its
    credential (Slack's are), and user:password@ never appears."""
    try:
        parts = urlsplit(url)
        return _origin(parts.scheme or "?", parts.hostname or "?", parts.port)
    except ValueError:
        return "(an unparsable URL)"


def allow_hint(address: IPAddress) -> str:
    network = f"{address}/{address.max_prefixlen}"
    return (f"if this receiver is meant to be reachable, add its network to alerts.allowed_networks "
            f"(env NEWSWATCH_ALERTS__ALLOWED_NETWORKS='{json.dumps([network])}', or e.g. '[\"127.0.0.0/8\"]' "
            "for receivers on this machine)")


def parse_networks(cidrs: list[str]) -> tuple[Network, ...]:
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise RefusedURL(f"alerts.allowed_networks holds {cidr!r}, which is not a CIDR network: write networks "
                             "like \"127.0.0.0/8\" or \"fd12:3456::/48\" (env NEWSWATCH_ALERTS__ALLOWED_NETWORKS)") from None
    return tuple(networks)


def destination(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 form really reaches (mapped, NAT64, 6to4), else the address itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def _address_class(ip: IPAddress) -> str | None:
    """What kind of non-public address this is, or None for a globally routable one. Reserved is
    asked before private because Python counts 240.0.0.0/4 as private too."""
    for attribute, name in (("is_unspecified", "an unspecified"), ("is_loopback", "a loopback"),
                            ("is_link_local", "a link-local"), ("is_multicast", "a multicast"),
                            ("is_reserved", "a reserved"), ("is_private", "a private")):
        if getattr(ip, attribute):
            return f"{name} address"
    return None if ip.is_global else "not globally routable (a shared, documentation or benchmark range)"


def refusal(address: IPAddress, networks: tuple[Network, ...]) -> str | None:
    """Why a webhook may not connect to this address, or None when it may."""
    ip = destination(address)
    shown = str(ip) if ip == address else f"{address} (that is {ip})"
    if ip in METADATA_ADDRESSES:
        if any(n.num_addresses == 1 and n.network_address == ip for n in networks):
            return None
        return (f"{shown} is a cloud metadata endpoint; it is allowed only when alerts.allowed_networks names "
                f"exactly {ip}/{ip.max_prefixlen}, never through a wider network")
    if any(ip in n for n in networks):  # an IPv4 address is never "in" an IPv6 network, and back
        return None
    kind = _address_class(ip)
    return None if kind is None else f"{shown} is {kind}; {allow_hint(ip)}"


def check_url(url: str, allowed_networks: list[str]) -> CheckedURL:
    """Parse, resolve and check a target. Raises RefusedURL (not retryable) for a scheme other than
    http/https, a malformed URL, or a host none of whose addresses may be reached; DeliveryError
    (retryable) when the name does not resolve now. Addresses that are refused are dropped when
    others are allowed (`localhost` is 127.0.0.1 and ::1: with 127.0.0.0/8 allowed, only 127.0.0.1
    is used)."""
    scheme, host, port, target = _split(url)
    networks = parse_networks(allowed_networks)
    allowed, refused = [], []
    for address, connectable in _resolve(host, port, _origin(scheme, host, port)):
        reason = refusal(address, networks)
        (refused if reason else allowed).append(reason or connectable)
    if not allowed:
        raise RefusedURL(f"refused {_origin(scheme, host, port)}: " + " and ".join(dict.fromkeys(refused)))
    return CheckedURL(scheme, host, port, target, tuple(dict.fromkeys(allowed)))


def _split(url: str) -> tuple[str, str, int, str]:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as err:
        raise RefusedURL(f"{safe_origin(url)} is not a valid URL ({err}): fix the subscription's URL") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise RefusedURL(f"a {scheme or 'scheme-less'} URL cannot receive alerts: only http:// and https:// "
                         "are allowed; fix the subscription's URL")
    if not parts.hostname:
        raise RefusedURL(f"{scheme}:// URL without a host: write {scheme}://HOST[:PORT]/PATH")
    if parts.username is not None or parts.password is not None:
        raise RefusedURL(f"{safe_origin(url)}: credentials in the URL (user:password@) are not sent; remove them "
                         "(a webhook authenticates newswatch by its signature secret)")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise RefusedURL(f"{safe_origin(url)}: the host name is not a valid internationalized domain name") from None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port or (443 if scheme == "https" else 80), target


def _resolve(host: str, port: int, origin: str) -> list[tuple[IPAddress, str]]:
    """Each address, and the form to connect to (an IPv6 link-local address keeps its zone id)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise DeliveryError(f"cannot resolve the host of {origin} ({getattr(err, 'strerror', None) or err}): check "
                            "the URL's host name and this machine's DNS", retryable=True) from None
    addresses = []
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            raw = str(sockaddr[0])
            addresses.append((ipaddress.ip_address(raw.split("%")[0]), raw))
    return list(dict.fromkeys(addresses))
