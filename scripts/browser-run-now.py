#!/usr/bin/env python3
"""Drives headless Chromium through the dashboard like a person: sign in with the token, open the
organization page, press "Run now", and watch the job's page, without reloading it, until the run has
finished (its script rewrites the status and progress).
Standard library only (a minimal WebSocket client for the DevTools protocol).

usage: browser-run-now.py CHROMIUM BASE_URL TOKEN ORG JOB SCREENSHOT_DIR
prints one JSON object: {"button_before_login": bool, "button_after_login": bool, "states": [...], "final": str,
"texts": [the status texts seen, in order], "reloaded": bool}
"""
import base64, json, os, socket, subprocess, sys, tempfile, time, urllib.request


class DevTools:
    def __init__(self, ws_url):
        rest = ws_url[len("ws://"):]
        hostport, path = rest.split("/", 1)
        host, port = hostport.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            response += self.sock.recv(4096)
        if b" 101 " not in response.split(b"\r\n")[0]:
            raise RuntimeError("websocket upgrade refused: %r" % response[:200])
        self.buffer = response.split(b"\r\n\r\n", 1)[1]
        self.next_id = 0
        self.events = []

    def _send(self, text):
        payload = text.encode()
        header = bytearray([0x81])
        n = len(payload)
        if n < 126:
            header.append(0x80 | n)
        elif n < 65536:
            header.append(0x80 | 126); header += n.to_bytes(2, "big")
        else:
            header.append(0x80 | 127); header += n.to_bytes(8, "big")
        mask = os.urandom(4)
        header += mask
        self.sock.sendall(bytes(header) + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("devtools connection closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _frame(self):
        first, second = self._read(2)
        n = second & 0x7F
        if n == 126:
            n = int.from_bytes(self._read(2), "big")
        elif n == 127:
            n = int.from_bytes(self._read(8), "big")
        payload = self._read(n)
        return first & 0x0F, payload

    def call(self, method, **params):
        self.next_id += 1
        my = self.next_id
        self._send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            opcode, payload = self._frame()
            if opcode != 1:
                continue
            message = json.loads(payload)
            if message.get("id") == my:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_load(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(e.get("method") == "Page.loadEventFired" for e in self.events):
                self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
                return
            opcode, payload = self._frame()
            if opcode == 1:
                self.events.append(json.loads(payload))
        raise RuntimeError("page did not load")

    def navigate(self, url):
        self.call("Page.navigate", url=url)
        self.wait_load()

    def evaluate(self, expression):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True).get("result", {}).get("value")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))


def main():
    chromium, base, token, org, job, shots = sys.argv[1:7]
    profile = tempfile.mkdtemp(prefix="breakout-chromium-")
    browser = subprocess.Popen([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
                                f"--user-data-dir={profile}", "--window-size=1200,900", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        deadline = time.time() + 30
        while port is None and time.time() < deadline:
            line = browser.stderr.readline()
            if "DevTools listening on ws://" in line:
                port = line.split("ws://", 1)[1].split("/", 1)[0].split(":")[1]
        if port is None:
            raise RuntimeError("chromium did not start its DevTools endpoint")
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(p for p in pages if p.get("type") == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        tools.call("Page.enable")
        org_page = f"{base}/org/{org}"
        button = "!!document.querySelector('form[action$=\"/run\"] button')"
        tools.navigate(org_page)
        before = tools.evaluate(button)
        tools.navigate(f"{base}/login")
        tools.evaluate(f"document.querySelector('input[name=token]').value = {json.dumps(token)}; document.forms[0].submit(); true")
        tools.wait_load()
        tools.navigate(org_page)
        after = tools.evaluate(button)
        tools.screenshot(os.path.join(shots, "organization-signed-in.png"))
        tools.evaluate("document.querySelector('form[action$=\"/run\"] button').click(); true")
        tools.wait_load()
        # The job's page, watched without a reload: /live.js rewrites the status while the run moves.
        # A marker on the window shows that the document stayed the same one.
        tools.evaluate("window.__watched = true; true")
        states = []
        texts = []
        final = ""
        reloaded = False
        for _ in range(600):
            text = tools.evaluate("(document.querySelector('[data-live-job]') || document.body).innerText")
            if not tools.evaluate("window.__watched === true"):
                reloaded = True
            if not texts or texts[-1] != text:
                texts.append(text)
            state = "running" if "running" in text else ("success" if "success" in text else ("failed" if "failed" in text else text[:40]))
            if not states or states[-1] != state:
                states.append(state)
            if state in ("success", "failed"):
                final = state
                break
            time.sleep(0.1)
        tools.screenshot(os.path.join(shots, "job-after-run-now.png"))
        print(json.dumps({"button_before_login": before, "button_after_login": after, "states": states, "final": final,
                          "texts": texts, "reloaded": reloaded}))
    finally:
        browser.kill()


if __name__ == "__main__":
    main()
