"""Virtual-host style addressing (`bucket.<domain>`) when the server is started with --domain;
path style keeps working beside it."""

from conftest import RawClient


class VirtualHostClient(RawClient):
    """Signs and sends requests with a `Host: <bucket>.<domain>:<port>` header."""

    def __init__(self, server, host_name: str):
        super().__init__(server)
        self._host_name = host_name

    @property
    def host(self) -> str:
        return f"{self._host_name}:{self.server.port}"


def test_virtual_host_style_with_domain(make_server):
    srv = make_server("--domain", "s3.tessera.test")
    s3 = srv.client()
    s3.create_bucket(Bucket="vhost-bucket")
    vh = VirtualHostClient(srv, "vhost-bucket.s3.tessera.test")

    put = vh("PUT", "/greeting.txt", body=b"hello by host")
    assert put.status == 200, put
    # Path style sees the object the virtual-host request wrote.
    assert s3.get_object(Bucket="vhost-bucket", Key="greeting.txt")["Body"].read() == b"hello by host"

    got = vh("GET", "/greeting.txt")
    assert got.status == 200, got
    assert got.body == b"hello by host"

    listing = vh("GET", "/", query={"list-type": "2"})
    assert listing.status == 200, listing
    assert b"<Key>greeting.txt</Key>" in listing.body
    assert b"<Name>vhost-bucket</Name>" in listing.body

    # Hosts outside the domain (localhost, the bare domain) stay path style.
    for other in ("localhost", "s3.tessera.test"):
        path_style = VirtualHostClient(srv, other)("GET", "/vhost-bucket/greeting.txt")
        assert path_style.status == 200, (other, path_style)
        assert path_style.body == b"hello by host"


def test_virtual_host_missing_bucket(make_server):
    srv = make_server("--domain", "s3.tessera.test")
    vh = VirtualHostClient(srv, "nobucket-here.s3.tessera.test")
    resp = vh("GET", "/k")
    assert resp.status == 404, resp
    assert resp.error_code == "NoSuchBucket"
