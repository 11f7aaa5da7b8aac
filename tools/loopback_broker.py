# The broker's side of an MQTT connection, in-process: a socket factory for
# thermocc_device.mqtt.MQTTClient that answers CONNECT, SUBSCRIBE, PUBLISH (QoS 1) and
# PINGREQ as a broker does, and keeps counts and CRC32s of what was published (not the
# messages: bounded memory). For the heap test on the WASI MicroPython, which has no
# sockets; everywhere else the tests use a real mosquitto. Runs under MicroPython and
# CPython.
import binascii

from thermocc_device.mqtt import packet_length

EAGAIN = 11


class LoopbackBroker:
    def __init__(self):
        self.published = 0
        self.by_topic = {}
        self.crc_by_leaf = {}    # per last topic level (blobs, status, ...), in order

    def socket_factory(self, host, port, timeout_s, tls):
        return LoopbackSocket(self)

    def _publish(self, topic, payload):
        self.published += 1
        self.by_topic[topic] = self.by_topic.get(topic, 0) + 1
        leaf = topic[topic.rfind("/") + 1:]
        self.crc_by_leaf[leaf] = binascii.crc32(payload, binascii.crc32(topic.encode(), self.crc_by_leaf.get(leaf, 0)))


class LoopbackSocket:
    def __init__(self, broker):
        self.broker = broker
        self.inbox = bytearray()     # what the client sent, not yet parsed
        self.outbox = bytearray()    # the broker's answers, not yet received
        self.open = True

    def settimeout(self, seconds):
        pass

    def close(self):
        self.open = False

    def send(self, data):
        if not self.open:
            raise OSError(9)
        self.inbox += data
        self._answer()
        return len(data)

    def recv(self, n):
        if not self.outbox:
            raise OSError(EAGAIN)
        data = bytes(self.outbox[:n])
        self.outbox = self.outbox[n:]
        return data

    def _answer(self):
        while True:
            packet = self._next()
            if packet is None:
                return
            kind, body = packet
            t = kind & 0xF0
            if t == 0x10:                       # CONNECT -> CONNACK accepted
                self.outbox += b"\x20\x02\x00\x00"
            elif t == 0x80:                     # SUBSCRIBE -> SUBACK, QoS as asked
                self.outbox += bytes((0x90, 3, body[0], body[1], body[-1]))
            elif t == 0x30:                     # PUBLISH -> PUBACK for QoS 1
                tlen = (body[0] << 8) | body[1]
                pos = 2 + tlen
                if (kind >> 1) & 3:
                    self.outbox += bytes((0x40, 2, body[pos], body[pos + 1]))
                    pos += 2
                self.broker._publish(bytes(body[2:2 + tlen]).decode(), body[pos:])
            elif t == 0xC0:                     # PINGREQ -> PINGRESP
                self.outbox += b"\xd0\x00"
            elif t == 0xE0:                     # DISCONNECT
                self.open = False

    def _next(self):
        buf = self.inbox
        head = packet_length(buf)
        if head is None:
            return None
        n, i = head
        if len(buf) < i + n:
            return None
        kind = buf[0]
        body = bytes(buf[i:i + n])
        self.inbox = buf[i + n:]
        return kind, body
