# A small MQTT 3.1.1 client for the board: QoS 0/1 publish, subscribe, last will,
# keepalive, non-blocking receive. It never blocks the camera loop for long: reads are
# polled, writes have a timeout, and any socket trouble raises OSError so the caller
# closes, backs off and reconnects (the store-and-forward outbox resends what was not
# acknowledged). Runs under MicroPython and CPython; tests drive this very module
# against a real mosquitto.
try:
    import socket
except ImportError:  # e.g. the WASI interpreter used for heap tests: pass socket_factory
    socket = None

CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
SUBSCRIBE = 0x82
SUBACK = 0x90
PINGREQ = 0xC0
PINGRESP = 0xD0
DISCONNECT = 0xE0

_EAGAIN = (11, 35, 115)   # EAGAIN on Linux/lwIP, EAGAIN on BSD, EINPROGRESS


class MQTTError(OSError):
    pass


def _utf8(text):
    data = text.encode() if isinstance(text, str) else bytes(text)
    return bytes((len(data) >> 8, len(data) & 0xFF)) + data


def _remaining_length(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def packet_length(buf):
    """(body length, header length) of the packet starting buf, or None while incomplete."""
    n = 0
    shift = 0
    i = 1
    while True:
        if i >= len(buf):
            return None
        b = buf[i]
        n |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return n, i
        shift += 7
        if shift > 21:
            raise MQTTError("malformed packet length")


def _tcp_socket(host, port, timeout_s, tls):
    addr = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1]
    sock = socket.socket()
    sock.settimeout(timeout_s)
    try:
        sock.connect(addr)
        if tls:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            if tls.get("ca"):
                ctx.load_verify_locations(cafile=tls["ca"])
                ctx.verify_mode = ssl.CERT_REQUIRED
            else:
                # No CA given: encrypted but unauthenticated; config validation warns.
                if hasattr(ctx, "check_hostname"):
                    ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise
    return sock


class MQTTClient:
    def __init__(self, client_id, host, port=1883, user=None, password=None, keepalive_s=30,
                 tls=None, clock=None, socket_factory=None, timeout_s=5, max_packet=8192):
        self.client_id = client_id
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.keepalive_s = keepalive_s
        self.tls = tls
        self.clock = clock
        self.socket_factory = socket_factory or _tcp_socket
        self.timeout_s = timeout_s
        self.max_packet = max_packet
        self.sock = None
        self.on_message = None      # f(topic: str, payload: bytes)
        self.on_puback = None       # f(pid)
        self._rx = bytearray()
        self._discard = 0           # bytes of an oversized packet still to skip
        self._pid = 0
        self._last_tx = 0
        self._last_rx = 0
        self._ping_out = False
        self.oversized = 0
        self.packets_in = 0
        self.packets_out = 0

    @property
    def connected(self):
        return self.sock is not None

    # -- connection -------------------------------------------------------------------
    def connect(self, will_topic=None, will_payload=b"", will_retain=True, will_qos=1, clean=True):
        """Open the socket, send CONNECT, wait for CONNACK. Returns session_present."""
        self.close()
        self.sock = self.socket_factory(self.host, self.port, self.timeout_s, self.tls)
        flags = 0x02 if clean else 0
        body = bytearray(_utf8("MQTT"))
        payload = bytearray(_utf8(self.client_id))
        if will_topic:
            flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
            payload += _utf8(will_topic) + _utf8(will_payload)
        if self.user is not None:
            flags |= 0x80
            payload += _utf8(self.user)
            if self.password is not None:
                flags |= 0x40
                payload += _utf8(self.password)
        body += bytes((4, flags, self.keepalive_s >> 8, self.keepalive_s & 0xFF))
        body += payload
        self._rx = bytearray()
        self._discard = 0
        self._ping_out = False
        try:
            self._send(CONNECT, body)
            self._last_rx = self._now()
            deadline = self._now() + self.timeout_s * 1000
            while True:
                packet = self._next_packet()
                if packet is not None:
                    kind, data = packet
                    if kind != CONNACK or len(data) != 2:
                        raise MQTTError("broker answered CONNECT with packet 0x%02x" % kind)
                    if data[1]:
                        raise MQTTError("broker refused the connection (return code %d: %s)"
                                        % (data[1], _REFUSED.get(data[1], "unknown")))
                    return bool(data[0] & 1)
                if self.clock.ticks_diff(self._now(), deadline) > 0:
                    raise MQTTError("no CONNACK within %d s" % self.timeout_s)
                self.clock.sleep_ms(2)
        except BaseException:
            self.close()
            raise

    def disconnect(self):
        if self.sock is not None:
            try:
                self._send(DISCONNECT, b"")
            except OSError:
                pass
        self.close()

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None

    # -- sending ----------------------------------------------------------------------
    def _now(self):
        return self.clock.ticks_ms()

    def _send(self, kind, body):
        packet = bytes((kind,)) + _remaining_length(len(body)) + bytes(body)
        view = memoryview(packet)
        sent = 0
        while sent < len(packet):
            n = self.sock.send(view[sent:])
            if n is None:          # MicroPython: would block
                n = 0
            sent += n
        self._last_tx = self._now()
        self.packets_out += 1

    def _next_id(self):
        self._pid = self._pid % 65535 + 1
        return self._pid

    def publish(self, topic, payload, qos=0, retain=False):
        """Send a PUBLISH; returns the packet id (QoS 1) or 0."""
        if self.sock is None:
            raise MQTTError("not connected")
        if isinstance(payload, str):
            payload = payload.encode()
        pid = 0
        body = bytearray(_utf8(topic))
        if qos:
            pid = self._next_id()
            body += bytes((pid >> 8, pid & 0xFF))
        body += payload
        self._guard(self._send, PUBLISH | (qos << 1) | (1 if retain else 0), body)
        return pid

    def subscribe(self, topic, qos=1):
        pid = self._next_id()
        body = bytes((pid >> 8, pid & 0xFF)) + _utf8(topic) + bytes((qos,))
        self._guard(self._send, SUBSCRIBE, body)
        return pid

    def _guard(self, fn, *args):
        try:
            fn(*args)
        except OSError:
            self.close()
            raise

    # -- receiving --------------------------------------------------------------------
    def poll(self):
        """Handle everything that has arrived and keep the connection alive.

        Non-blocking. Raises OSError (after closing) when the connection is gone.
        """
        if self.sock is None:
            raise MQTTError("not connected")
        try:
            while True:
                packet = self._next_packet()
                if packet is None:
                    break
                self._handle(*packet)
            self._keepalive()
        except OSError:
            self.close()
            raise

    def _keepalive(self):
        if not self.keepalive_s:
            return
        now = self._now()
        if self.clock.ticks_diff(now, self._last_rx) > self.keepalive_s * 1500:
            raise MQTTError("broker silent for %d s" % (self.keepalive_s * 3 // 2))
        if not self._ping_out and self.clock.ticks_diff(now, self._last_tx) > self.keepalive_s * 500:
            self._send(PINGREQ, b"")
            self._ping_out = True

    def _fill(self):
        # One non-blocking read into the receive buffer; False when nothing came.
        sock = self.sock
        sock.settimeout(0)
        try:
            data = sock.recv(1024)
        except OSError as e:
            if (e.args and e.args[0] in _EAGAIN) or type(e).__name__ in ("BlockingIOError", "SSLWantReadError"):
                return False
            raise
        finally:
            if self.sock is not None:
                sock.settimeout(self.timeout_s)
        if data is None:
            return False
        if not data:
            raise MQTTError("broker closed the connection")
        self._last_rx = self._now()
        if self._discard:
            skip = min(self._discard, len(data))
            self._discard -= skip
            data = data[skip:]
        self._rx += data
        return True

    def _next_packet(self):
        """(kind, body) of the next complete packet, reading the socket once if needed."""
        packet = self._parse()
        if packet is None and self._fill():
            packet = self._parse()
        return packet

    def _parse(self):
        rx = self._rx
        head = packet_length(rx)
        if head is None:
            return None
        n, i = head
        if n > self.max_packet:
            # Too big for this board: skip it, count it, stay connected.
            self.oversized += 1
            have = len(rx) - i
            if have >= n:
                self._rx = rx[i + n:]
            else:
                self._discard = n - have
                self._rx = bytearray()
            return self._parse()
        if len(rx) < i + n:
            return None
        kind = rx[0]
        body = bytes(rx[i:i + n])
        self._rx = rx[i + n:]
        self.packets_in += 1
        return kind, body

    def _handle(self, kind, body):
        t = kind & 0xF0
        if t == PUBLISH:
            qos = (kind >> 1) & 3
            tlen = (body[0] << 8) | body[1]
            topic = body[2:2 + tlen].decode()
            pos = 2 + tlen
            if qos:
                pid = (body[pos] << 8) | body[pos + 1]
                pos += 2
                self._send(PUBACK, bytes((pid >> 8, pid & 0xFF)))
            if self.on_message:
                self.on_message(topic, body[pos:])
        elif t == PUBACK:
            if self.on_puback:
                self.on_puback((body[0] << 8) | body[1])
        elif t == PINGRESP:
            self._ping_out = False
        # SUBACK and others need no action.


_REFUSED = {1: "protocol version", 2: "client id rejected", 3: "server unavailable",
            4: "bad user name or password", 5: "not authorised"}
