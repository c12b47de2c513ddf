#!/usr/bin/env python3
# Hostile fake MySQL/MariaDB server for the isolation (security) tests.
#
# A tenant's malicious server can answer any query with a LOCAL INFILE request (0xFB + filename) and so
# make a careless client upload a file from the client host. This server does exactly that to every
# COM_QUERY and COM_STMT_EXECUTE (COM_STMT_PREPARE gets a valid prepare answer so that execute follows)
# and logs, as JSON lines, what the client sent back, so a test can assert that our driver never sends
# a file. `--mode ok` answers with a plain OK instead (a control); `--mode on-load` answers OK to
# everything but a client's own LOAD DATA LOCAL INFILE, which it answers by asking for another file.
# It listens on 127.0.0.1 only, on an ephemeral port written to --port-file, and exits by itself after
# --timeout seconds or --max-connections connections. Standard library only.
#
#   python3 scripts/fake-mysql-server.py --port-file PATH --log PATH [--request-file FILENAME]
#       [--max-connections N] [--timeout SECONDS] [--mode infile|ok|on-load]
import argparse, base64, json, os, socket, struct, threading, time

READ_TIMEOUT = 10.0          # every socket read
MAX_INFILE_PACKETS = 100000  # bound on packets read in one LOCAL INFILE exchange
MAX_INFILE_BYTES = 64 << 20  # bound on bytes read in one LOCAL INFILE exchange (then close)
MAX_LOGGED_BYTES = 1 << 20   # file content beyond this is counted but not put into the log
MAX_COMMANDS = 10000         # bound on commands per connection

CAPS = (0x1 | 0x4 | 0x8 | 0x80 | 0x200 | 0x2000 | 0x8000 | 0x10000 | 0x20000 | 0x40000 | 0x80000)
# LONG_PASSWORD (marks us as MySQL-compatible, not MariaDB-extended), LONG_FLAG, CONNECT_WITH_DB,
# LOCAL_FILES, PROTOCOL_41, TRANSACTIONS, SECURE_CONNECTION, MULTI_STATEMENTS, MULTI_RESULTS,
# PS_MULTI_RESULTS, PLUGIN_AUTH. Deliberately no CLIENT_SSL (0x800): the client stays in plain text.
NATIVE = b"mysql_native_password"
COMMANDS = {0x01: "quit", 0x02: "init_db", 0x03: "query", 0x0e: "ping", 0x11: "change_user",
            0x16: "stmt_prepare", 0x17: "stmt_execute", 0x18: "stmt_send_long_data", 0x19: "stmt_close",
            0x1a: "stmt_reset"}


class Closed(Exception):  # end of the conversation; the argument is the reason logged
    pass


class Log:
    def __init__(self, path):
        self.f, self.lock = open(path, "a", encoding="utf-8"), threading.Lock()

    def write(self, conn_id, event, **fields):
        line = json.dumps(dict(event=event, conn=conn_id, time=round(time.time(), 3), **fields))
        with self.lock:
            self.f.write(line + "\n")
            self.f.flush()


class Conn:
    def __init__(self, sock, conn_id, args, log):
        self.sock, self.id, self.args, self.log = sock, conn_id, args, log
        self.seq, self.out = 0, b""
        sock.settimeout(READ_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))  # raises socket.timeout after READ_TIMEOUT
            if not chunk:
                raise Closed("client_closed")
            buf += chunk
        return buf

    def read_packet(self):
        """One wire packet: (sequence id, payload). Sets self.seq to the next id to send."""
        if self.out:  # replies are buffered and sent in one write before we wait for the client
            self.sock.sendall(self.out)
            self.out = b""
        header = self.recv_exact(4)
        self.seq = (header[3] + 1) & 0xFF
        return header[3], self.recv_exact(header[0] | header[1] << 8 | header[2] << 16)

    def send(self, payload):
        self.out += struct.pack("<I", len(payload))[:3] + bytes([self.seq]) + payload
        self.seq = (self.seq + 1) & 0xFF

    def send_ok(self):
        self.send(b"\x00\x00\x00" + struct.pack("<HH", 0x0002, 0))  # rows 0, id 0, AUTOCOMMIT, 0 warnings

    def send_one_value(self, value):
        """A text result set of one column and one row (protocol 4.1, with EOF packets)."""
        def lenenc(b):
            return bytes([len(b)]) + b
        eof = b"\xfe" + struct.pack("<HH", 0, 0x0002)
        self.send(b"\x01")
        self.send(lenenc(b"def") + lenenc(b"") * 3 + lenenc(b"v") + lenenc(b"") + b"\x0c"
                  + struct.pack("<HIBHB", 63, 21, 0x08, 0x0081, 0) + b"\x00\x00")
        self.send(eof)
        self.send(lenenc(value))
        self.send(eof)

    def handshake(self):
        scramble = os.urandom(20).replace(b"\x00", b"\x01")
        self.seq = 0
        self.send(b"\x0a" + b"10.11.6-MariaDB-fake\x00" + struct.pack("<I", self.id) + scramble[:8] + b"\x00"
                  + struct.pack("<H", CAPS & 0xFFFF) + b"\x2d" + struct.pack("<H", 0x0002)
                  + struct.pack("<H", CAPS >> 16) + bytes([21]) + b"\x00" * 10
                  + scramble[8:] + b"\x00" + NATIVE + b"\x00")
        _, resp = self.read_packet()
        if len(resp) <= 32:  # 32 bytes is an SSLRequest: we never offered TLS, so such a client is dropped
            raise Closed("ssl_request" if len(resp) == 32 else "bad_handshake_response")
        flags = struct.unpack_from("<I", resp, 0)[0]
        fields, pos = [], 32  # user NUL, auth data (length-prefixed or NUL), db NUL, plugin NUL
        for kind in ("z", "auth", "z" if flags & 0x8 else None, "z" if flags & 0x80000 else None):
            if kind is None or pos >= len(resp):
                fields.append(b"")
            elif kind == "auth" and flags & 0x208000:
                n = resp[pos]
                fields.append(resp[pos + 1:pos + 1 + n])
                pos += 1 + n
            else:
                end = resp.find(b"\x00", pos)
                end = len(resp) if end < 0 else end
                fields.append(resp[pos:end])
                pos = end + 1
        user, _, db, plugin = (f.decode("utf-8", "replace") for f in fields)
        self.log.write(self.id, "login", user=user, db=db or None, plugin=plugin, client_flags=flags,
                       client_local_files=bool(flags & 0x80))  # the flag alone does not mean it would send
        if plugin and plugin != NATIVE.decode():  # AuthSwitchRequest to native password; accept any answer
            self.send(b"\xfe" + NATIVE + b"\x00" + scramble + b"\x00")
            self.read_packet()
            self.log.write(self.id, "auth_switch", from_plugin=plugin)
        self.send_ok()

    def infile(self):
        """Ask for the file; read the client's answer. Returns a pending new command packet, if any."""
        name = self.args.request_file
        self.send(b"\xfb" + name.encode())
        self.log.write(self.id, "infile_request", file=name)
        expect, data, total, end, pending = self.seq, b"", 0, "empty_packet", None
        for _ in range(MAX_INFILE_PACKETS):
            try:
                seq, payload = self.read_packet()
            except (Closed, socket.timeout) as e:
                end = "closed" if isinstance(e, Closed) else "timeout"
                break
            if seq != expect:  # e.g. seq 0: the client gave up on the request and sent a new command
                end, pending = "new_command", (seq, payload)
                break
            expect = (expect + 1) & 0xFF
            if not payload:
                break
            total += len(payload)
            if len(data) < MAX_LOGGED_BYTES:
                data += payload[:MAX_LOGGED_BYTES - len(data)]
            if total > MAX_INFILE_BYTES:
                end = "too_much"
                break
        else:
            end = "too_many_packets"
        self.log.write(self.id, "infile_data", bytes=total, data_b64=base64.b64encode(data).decode(), end=end)
        if end not in ("empty_packet", "new_command"):
            raise Closed("infile_" + end)
        if pending is None:
            self.send_ok()
        return pending

    def prepare_ok(self, sql):
        """COM_STMT_PREPARE: a valid answer (0 columns, one parameter per `?`), so execute comes next."""
        self.stmts += 1
        self.prepared[self.stmts] = sql
        n = count_placeholders(sql)
        self.send(b"\x00" + struct.pack("<IHHBH", self.stmts, 0, n, 0, 0))
        for _ in range(n):  # ColumnDefinition41 "?" VAR_STRING, then EOF (we never offer DEPRECATE_EOF)
            self.send(b"\x03def\x00\x00\x00\x01?\x00\x0c" + struct.pack("<HIBHBH", 0x3f, 0, 0xfd, 0, 0, 0))
        if n:
            self.send(b"\xfe\x00\x00\x02\x00")

    def serve(self):
        self.handshake()
        pending, self.stmts, self.prepared = None, 0, {}
        for _ in range(MAX_COMMANDS):
            if pending is not None:
                seq, pkt = pending
                self.seq = (seq + 1) & 0xFF
                pending = None
            else:
                _, pkt = self.read_packet()
            cmd = pkt[0] if pkt else -1
            sql = None
            name = COMMANDS.get(cmd, "0x%02x" % cmd if cmd >= 0 else "empty")
            if cmd == 0x03:
                sql = pkt[1:].decode("utf-8", "replace")
                self.log.write(self.id, "query", sql=sql, command=name)
            elif cmd == 0x17 and len(pkt) >= 5:
                stmt_id = struct.unpack_from("<I", pkt, 1)[0]
                sql = self.prepared.get(stmt_id)
                self.log.write(self.id, "query", sql=self.prepared.get(stmt_id), command=name, stmt=stmt_id)
            elif cmd == 0x16:
                sql = pkt[1:].decode("utf-8", "replace")
                self.log.write(self.id, "query", sql=sql, command=name)
                self.prepare_ok(sql)
                continue
            else:
                self.log.write(self.id, "command", command=name)
                if cmd == 0x01:
                    raise Closed("quit")
                if cmd not in (0x18, 0x19):  # STMT_SEND_LONG_DATA and STMT_CLOSE get no reply
                    self.send_ok()  # ping, init_db and everything else
                continue
            on_load = self.args.mode == "on-load" and "LOAD DATA" in (sql or "").upper()
            if self.args.mode == "infile" or on_load:  # COM_QUERY and COM_STMT_EXECUTE
                pending = self.infile()
            elif cmd == 0x03 and (sql or "").upper().startswith("SELECT GET_LOCK"):
                self.send_one_value(b"1")  # the destination lock is granted, so a breakout reaches its load
            else:
                self.send_ok()


def count_placeholders(sql):
    """`?` outside quotes and comments (close enough for a fake server)."""
    n, i, quote = 0, 0, None
    while i < len(sql):
        c = sql[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "'\"`":
            quote = c
        elif sql.startswith("--", i) or c == "#":
            j = sql.find("\n", i)
            i = len(sql) if j < 0 else j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = len(sql) if j < 0 else j + 1
        elif c == "?":
            n += 1
        i += 1
    return n


def handle(sock, conn_id, args, log):
    reason = "max_commands"
    try:
        Conn(sock, conn_id, args, log).serve()
    except Closed as e:
        reason = e.args[0]
    except socket.timeout:
        reason = "read_timeout"
    except OSError as e:
        reason = "error: %s" % e
    finally:
        sock.close()
        log.write(conn_id, "closed", reason=reason)


def main():
    p = argparse.ArgumentParser(description="Hostile fake MySQL server (LOCAL INFILE file theft test).")
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--request-file", default="/etc/hostname")
    p.add_argument("--max-connections", type=int, default=50)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--mode", choices=("infile", "ok", "on-load"), default="infile")
    args = p.parse_args()
    log = Log(args.log)
    deadline = time.monotonic() + args.timeout
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    port = srv.getsockname()[1]
    tmp = "%s.tmp.%d" % (args.port_file, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, args.port_file)  # atomic: a reader sees no file or the whole port number
    log.write(None, "listening", port=port, mode=args.mode, request_file=args.request_file)
    threads, served = [], 0
    while time.monotonic() < deadline and served < args.max_connections:
        try:
            sock, _ = srv.accept()
        except socket.timeout:
            continue
        served += 1
        log.write(served, "connect")
        t = threading.Thread(target=handle, args=(sock, served, args, log), daemon=True)
        t.start()
        threads.append(t)
    srv.close()
    for t in threads:  # let the last connections finish, but never past the deadline
        t.join(max(0.0, deadline - time.monotonic()))
    log.write(None, "exit", connections=served,
              reason="timeout" if time.monotonic() >= deadline else "max_connections")


if __name__ == "__main__":
    main()
