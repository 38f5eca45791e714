"""Starts the real `wafer serve` binary (release build) on a free loopback port."""
import atexit
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest

ROOT = Path(__file__).resolve().parents[2]
WAFER = ROOT / ".build" / "release" / "wafer"
MODEL_ID = "SmolLM2-135M-Instruct.Q4_1"


# The data directories Servers made: removed when the run ends, not at stop (a restarted Server reuses one).
made_directories = []
atexit.register(lambda: [shutil.rmtree(d, ignore_errors=True) for d in made_directories])


class Server:
    def __init__(self, *args, data_dir=None):
        if data_dir is None:
            data_dir = tempfile.mkdtemp(prefix="wafer-e2e-")
            made_directories.append(data_dir)
        self.data_dir = data_dir
        self.ledger = str(Path(self.data_dir) / "ledger.db")
        self.process = subprocess.Popen([str(WAFER), "serve", "--port", "0", "--data-dir", self.data_dir, *args], cwd=ROOT,
                                        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.log = []
        listening = threading.Event()
        self.port = None

        def drain():
            for line in self.process.stderr:
                self.log.append(line)
                m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                    listening.set()
        threading.Thread(target=drain, daemon=True).start()
        if not listening.wait(30):
            self.process.kill()
            raise RuntimeError("wafer serve did not start: " + "".join(self.log))
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(self.base + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("wafer serve never became healthy: " + "".join(self.log))

    def client(self, api_key="unused"):
        return openai.OpenAI(base_url=self.base + "/v1", api_key=api_key, max_retries=0, timeout=120)

    def metrics(self):
        text = httpx.get(self.base + "/metrics", timeout=10).text
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values

    def rows(self, where="1", params=()):
        """Ledger rows as dicts, read with a separate SQLite connection."""
        db = sqlite3.connect(self.ledger)
        db.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in db.execute(f"SELECT * FROM requests WHERE {where}", params)]
        finally:
            db.close()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


@pytest.fixture(scope="session")
def server():
    s = Server()
    yield s
    assert s.stop() == 0, "".join(s.log)


@pytest.fixture(scope="session")
def client(server):
    return server.client()
