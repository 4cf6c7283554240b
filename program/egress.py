"""Where the gateway's pods may connect: the cluster's DNS, and HTTPS to public addresses only.

``NON_PUBLIC_IPV4`` is every block of the IANA IPv4 Special-Purpose Address Registry that is not
globally reachable, plus multicast and the reserved 240/4 (which covers the limited broadcast
address): https://www.iana.org/assignments/iana-ipv4-special-registry/ and
https://www.iana.org/assignments/multicast-addresses/. The list is written out rather than taken
from Python's ``ipaddress``, whose idea of "private" differs between patch releases. Pod and
Service ranges normally lie inside 10/8, 172.16/12, 100.64/10 or 192.168/16, so they are covered.
There is no IPv6 rule: the policy allows IPv4 only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NON_PUBLIC_IPV4: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "this network"),
    ("10.0.0.0/8", "private use"),
    ("100.64.0.0/10", "shared address space (carrier-grade NAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local, the cloud metadata endpoint included"),
    ("172.16.0.0/12", "private use"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)"),
    ("192.88.99.0/24", "deprecated 6to4 relay anycast"),
    ("192.168.0.0/16", "private use"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved, limited broadcast included"),
)

# The cluster DNS: CoreDNS keeps the `k8s-app: kube-dns` label of the kube-dns it replaced
# (kubeadm, EKS, GKE, AKS), in the namespace every cluster labels `kube-system`.
CLUSTER_DNS_NAMESPACE = "kube-system"
CLUSTER_DNS_POD_LABELS = {"k8s-app": "kube-dns"}

# An in-cluster egress proxy, addressed by its Service: http://<service>.<namespace>[.svc[.cluster.local]]:<port>.
_PROXY_URL = re.compile(
    r"^http://(?P<service>[a-z0-9]([-a-z0-9]*[a-z0-9])?)\.(?P<namespace>[a-z0-9]([-a-z0-9]*[a-z0-9])?)"
    r"(\.svc(\.cluster\.local)?)?:(?P<port>[0-9]{1,5})$"
)


@dataclass(frozen=True)
class EgressProxy:
    """The stack's egress proxy: its URL (HTTPS_PROXY), and the namespace and port the policy admits."""

    url: str
    namespace: str
    port: int


def parse_egress_proxy(url: str) -> EgressProxy | None:
    """The proxy a URL names, or None when it is not an in-cluster proxy Service URL."""
    match = _PROXY_URL.match(url)
    if match is None or not 0 < int(match["port"]) < 65536:
        return None
    return EgressProxy(url=url, namespace=match["namespace"], port=int(match["port"]))
