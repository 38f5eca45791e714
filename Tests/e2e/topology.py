"""The scale-out topology run natively (issue 18): Debian's PostgreSQL and nginx
started on loopback ports in temporary directories, `wafer serve` replicas
sharing the PostgreSQL ledger behind nginx. Everything is stopped afterwards."""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """A throwaway cluster: initdb as the `postgres` user (initdb refuses root), trust auth on loopback."""

    def __init__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not bins:
            raise RuntimeError("PostgreSQL is not installed (scripts/setup --tests installs it)")
        self.bin = bins[-1]
        self.dir = tempfile.mkdtemp(prefix="wafer-pg-")
        self.port = free_port()
        user = pwd.getpwnam("postgres")
        os.chown(self.dir, user.pw_uid, user.pw_gid)
        self._as_postgres("initdb", "-D", f"{self.dir}/data", "-U", "wafer", "--auth=trust", "-E", "UTF8")
        self.start()
        self.url = f"postgresql://wafer@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, tool, *args):
        subprocess.run(["runuser", "-u", "postgres", "--", f"{self.bin}/{tool}", *args], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=120)

    def query(self, sql):
        """Rows of `sql` (psql, unaligned), each a list of column texts."""
        out = subprocess.run(["psql", "-At", "-F", "\t", self.url, "-c", sql], check=True, capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def start(self):
        self._as_postgres("pg_ctl", "-D", f"{self.dir}/data", "-l", f"{self.dir}/log", "-w", "start", "-o",
                          f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1")

    def halt(self):
        """Stops the server, keeping the data (start() brings it back)."""
        self._as_postgres("pg_ctl", "-D", f"{self.dir}/data", "-m", "fast", "-w", "stop")

    def stop(self):
        self.halt()
        shutil.rmtree(self.dir, ignore_errors=True)


NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_max_body_size 512m;
    upstream wafer {{
        least_conn;
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://wafer;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
        }}
    }}
}}
"""


class Nginx:
    """nginx in front of `backends` (host:port), least-connections, no buffering (SSE)."""

    def __init__(self, backends):
        self.dir = tempfile.mkdtemp(prefix="wafer-nginx-")
        self.port = free_port()
        servers = "\n".join(f"        server {b} max_fails=1 fail_timeout=30s;" for b in backends)
        conf = Path(self.dir) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=self.dir, port=self.port, servers=servers))
        self.process = subprocess.Popen(["nginx", "-c", str(conf), "-p", self.dir, "-g", "daemon off;"],
                                        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=20)
        shutil.rmtree(self.dir, ignore_errors=True)
