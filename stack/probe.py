#!/usr/bin/env python3
"""Protocol-level readiness probes for the local stack (stdlib only).

An open TCP port is not readiness: Kafka accepts connections before it can
serve metadata, and Cassandra opens 9042 before it can answer queries. These
probes speak just enough of each wire protocol to prove the server answers.

    probe.py kafka HOST PORT      ApiVersions + Metadata, needs a live broker
    probe.py kafka-coordinators HOST PORT
                                  wait (up to 30 s) until the group and
                                  transaction coordinators and producer ids work
    probe.py cql HOST PORT        STARTUP + SELECT release_version FROM system.local

Exit 0 and print a short summary when ready, exit 1 with the reason otherwise.
"""

import socket
import struct
import sys
import time

TIMEOUT_S = 3.0


class ProbeError(Exception):
    pass


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ProbeError("connection closed by server")
        buf += chunk
    return bytes(buf)


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ProbeError("truncated response")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def int8(self):
        return struct.unpack(">b", self.take(1))[0]

    def int16(self):
        return struct.unpack(">h", self.take(2))[0]

    def int32(self):
        return struct.unpack(">i", self.take(4))[0]

    def string16(self):
        n = self.int16()
        return None if n < 0 else self.take(n).decode("utf-8", "replace")

    def bytes32(self):
        n = self.int32()
        return None if n < 0 else self.take(n)


# --- Kafka -----------------------------------------------------------------

API_METADATA = 3
API_FIND_COORDINATOR = 10
API_VERSIONS = 18
API_INIT_PRODUCER_ID = 22


def kafka_call(sock, api_key, api_version, corr, body):
    client_id = b"pinpipe-stack-probe"
    header = struct.pack(">hhih", api_key, api_version, corr, len(client_id)) + client_id
    msg = header + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    size = struct.unpack(">i", recv_exact(sock, 4))[0]
    resp = Reader(recv_exact(sock, size))
    if resp.int32() != corr:
        raise ProbeError("correlation id mismatch")
    return resp


def kafka_api_versions(sock):
    # v0 of ApiVersions is answered by every broker version, so it is the
    # safe way to learn which versions of the other calls this broker speaks.
    r = kafka_call(sock, API_VERSIONS, 0, 1, b"")
    err = r.int16()
    if err != 0:
        raise ProbeError(f"ApiVersions error code {err}")
    versions = {}
    for _ in range(r.int32()):
        key, lo, hi = r.int16(), r.int16(), r.int16()
        versions[key] = (lo, hi)
    return versions


def require_version(versions, api_key, wanted):
    lo, hi = versions.get(api_key, (None, None))
    if lo is None or not lo <= wanted <= hi:
        raise ProbeError(f"broker does not offer api {api_key} v{wanted} (range {lo}..{hi})")


def probe_kafka(host, port):
    with socket.create_connection((host, port), timeout=TIMEOUT_S) as sock:
        sock.settimeout(TIMEOUT_S)
        require_version(kafka_api_versions(sock), API_METADATA, 4)
        # Metadata v4: topics=null (all), allow_auto_topic_creation=false.
        r = kafka_call(sock, API_METADATA, 4, 2, struct.pack(">ib", -1, 0))
        r.int32()  # throttle_time_ms
        brokers = []
        for _ in range(r.int32()):
            node_id = r.int32()
            bhost = r.string16()
            bport = r.int32()
            r.string16()  # rack
            brokers.append(f"{node_id}@{bhost}:{bport}")
        cluster_id = r.string16()
        controller = r.int32()
        topics = r.int32()
        if not brokers:
            raise ProbeError("metadata lists no brokers yet")
        if controller < 0:
            raise ProbeError("metadata has no controller yet")
        return f"kafka cluster {cluster_id} brokers {','.join(brokers)} topics {topics}"


def kafka_coordinators(host, port, budget_s=30.0):
    """Does up front the slow first-time work that clients would hit.

    The first FindCoordinator of each kind makes the broker create
    __consumer_offsets / __transaction_state, and the first InitProducerId
    makes it fetch a block of producer ids from the controller. Until then
    clients get COORDINATOR_NOT_AVAILABLE / COORDINATOR_LOAD_IN_PROGRESS and
    back off, which shows up as slow or flaky first tests.
    """
    key = b"pinpipe-stack-probe"
    steps = {
        "group coordinator": (API_FIND_COORDINATOR, struct.pack(">h", len(key)) + key + b"\x00"),
        "transaction coordinator": (API_FIND_COORDINATOR, struct.pack(">h", len(key)) + key + b"\x01"),
        # transactional_id null, as an idempotent (non-transactional) producer sends it
        "idempotent producer id": (API_INIT_PRODUCER_ID, struct.pack(">hi", -1, 60000)),
    }
    deadline = time.monotonic() + budget_s
    last_error = None
    corr = 10
    while steps:
        try:
            with socket.create_connection((host, port), timeout=TIMEOUT_S) as sock:
                sock.settimeout(TIMEOUT_S)
                versions = kafka_api_versions(sock)
                for name, (api_key, body) in list(steps.items()):
                    require_version(versions, api_key, 1)
                    corr += 1
                    r = kafka_call(sock, api_key, 1, corr, body)
                    r.int32()  # throttle_time_ms
                    err = r.int16()
                    if err == 0:
                        del steps[name]
                    else:
                        last_error = f"{name}: error code {err}"
        except OSError as exc:
            last_error = str(exc)
        if steps:
            if time.monotonic() > deadline:
                raise ProbeError(f"kafka not usable yet: {last_error}")
            time.sleep(0.3)
    return "kafka coordinators and producer ids ready"


# --- CQL (native protocol v4) ---------------------------------------------

OP_ERROR, OP_STARTUP, OP_READY, OP_QUERY, OP_RESULT = 0x00, 0x01, 0x02, 0x07, 0x08
CONSISTENCY_ONE = 0x0001


def cql_string_map(d):
    out = struct.pack(">h", len(d))
    for k, v in d.items():
        kb, vb = k.encode(), v.encode()
        out += struct.pack(">h", len(kb)) + kb + struct.pack(">h", len(vb)) + vb
    return out


def cql_call(sock, stream, opcode, body):
    sock.sendall(struct.pack(">BBhBi", 0x04, 0, stream, opcode, len(body)) + body)
    version, _flags, rstream, ropcode, length = struct.unpack(">BBhBi", recv_exact(sock, 9))
    payload = Reader(recv_exact(sock, length))
    if version & 0x7F != 0x04:
        raise ProbeError(f"unexpected protocol version 0x{version:02x}")
    if rstream != stream:
        raise ProbeError("stream id mismatch")
    if ropcode == OP_ERROR:
        code = payload.int32()
        raise ProbeError(f"server error 0x{code:04x}: {payload.string16()}")
    return ropcode, payload


def skip_cql_type(r):
    kind = r.int16()
    if kind == 0x0000:  # custom
        r.string16()
    elif kind in (0x0020, 0x0022):  # list, set
        skip_cql_type(r)
    elif kind == 0x0021:  # map
        skip_cql_type(r)
        skip_cql_type(r)
    elif kind in (0x0030, 0x0031):  # udt, tuple: not expected for this query
        raise ProbeError("unexpected complex column type")


def probe_cql(host, port):
    with socket.create_connection((host, port), timeout=TIMEOUT_S) as sock:
        sock.settimeout(TIMEOUT_S)
        op, _ = cql_call(sock, 1, OP_STARTUP, cql_string_map({"CQL_VERSION": "3.0.0"}))
        if op != OP_READY:
            raise ProbeError(f"STARTUP answered opcode 0x{op:02x}, not READY")
        query = b"SELECT release_version FROM system.local"
        body = struct.pack(">i", len(query)) + query + struct.pack(">hB", CONSISTENCY_ONE, 0)
        op, r = cql_call(sock, 2, OP_QUERY, body)
        if op != OP_RESULT or r.int32() != 0x0002:
            raise ProbeError("query did not return rows")
        flags = r.int32()
        ncols = r.int32()
        if flags & 0x0002:  # has_more_pages
            r.bytes32()
        global_spec = flags & 0x0001
        if global_spec:
            r.string16()
            r.string16()
        if not flags & 0x0004:  # no_metadata not set: column specs follow
            for _ in range(ncols):
                if not global_spec:
                    r.string16()
                    r.string16()
                r.string16()
                skip_cql_type(r)
        if r.int32() < 1:
            raise ProbeError("system.local returned no row")
        value = r.bytes32()
        return "cassandra %s" % (value.decode() if value is not None else "?")


def main(argv):
    probes = {"kafka": probe_kafka, "kafka-coordinators": kafka_coordinators, "cql": probe_cql}
    if len(argv) != 4 or argv[1] not in probes:
        sys.stderr.write(__doc__)
        return 2
    host, port = argv[2], int(argv[3])
    probe = probes[argv[1]]
    try:
        print(probe(host, port))
        return 0
    except (OSError, ProbeError, struct.error) as exc:
        print(f"not ready: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
