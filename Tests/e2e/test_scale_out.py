"""Scale-out (issue 18), natively: two `wafer serve` replicas share one PostgreSQL
ledger behind nginx (least-connections), driven with the official openai client
through nginx. Load spreads over both; /v1/usage on either equals what both
billed; files and batches are shared; a replica killed with SIGKILL mid-load and
mid-batch loses no row and duplicates no row or batch line."""
import decimal
import json
import signal
import subprocess
import threading
import time

import httpx
import openai
import pytest

from conftest import MODEL_ID, WAFER, Server
from topology import Nginx, Postgres

D = decimal.Decimal


class Cluster:
    def __init__(self, replicas=2):
        self.pg = Postgres()
        self.replicas = [Server("--ledger", self.pg.url) for _ in range(replicas)]
        self.nginx = Nginx([f"127.0.0.1:{r.port}" for r in self.replicas])

    def client(self, base=None):
        return openai.OpenAI(base_url=(base or self.nginx.base) + "/v1", api_key="unused", max_retries=0, timeout=120)

    def stop(self):
        self.nginx.stop()
        for r in self.replicas:
            if r.process.poll() is None:
                r.stop()
        self.pg.stop()


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    yield c
    c.stop()


def ask(client, i, max_tokens=6):
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL_ID, messages=[{"role": "user", "content": f"Say a word about the number {i}."}], max_tokens=max_tokens)
    raw.parse()
    return raw.headers["x-request-id"], D(raw.headers["x-wafer-cost-usd"])


def usage_total(base):
    return D(str(httpx.get(base + "/v1/usage", timeout=30).json()["total"]["cost_usd"]))


def batch_lines(n, prefix):
    return "\n".join(json.dumps({"custom_id": f"{prefix}-{i}", "method": "POST", "url": "/v1/chat/completions",
                                 "body": {"model": MODEL_ID, "messages": [{"role": "user", "content": f"Count to {i}."}],
                                          "max_tokens": 8}}) for i in range(n)).encode()


def batch_under_way(c, replica, lines, prefix, answered):
    """A batch of `lines` uploaded to and created on `replica` (which claims it), once `answered` lines are done."""
    direct = c.client(replica.base)
    uploaded = direct.files.create(file=(f"{prefix}.jsonl", batch_lines(lines, prefix)), purpose="batch")
    batch = direct.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    deadline = time.time() + 120
    while direct.batches.retrieve(batch.id).request_counts.completed < answered:
        assert time.time() < deadline, "the batch made no progress"
        time.sleep(0.2)
    return batch


def wait_done(client, batch_id, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        b = client.batches.retrieve(batch_id)
        if b.status in ("completed", "failed", "expired", "cancelled"):
            return b
        time.sleep(0.5)
    raise AssertionError(f"batch {batch_id} did not finish")


def test_load_spreads_and_usage_on_each_replica_equals_what_both_billed(cluster):
    client = cluster.client()
    billed = []

    def send(k):
        for i in range(4):
            billed.append(ask(client, k * 10 + i))
    threads = [threading.Thread(target=send, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(billed) == 16
    ids = ",".join(f"'{rid}'" for rid, _ in billed)
    by_replica = cluster.pg.query(f"SELECT replica, count(*) FROM requests WHERE request_id IN ({ids}) GROUP BY replica")
    assert len(by_replica) == 2, f"the load went to one replica only: {by_replica}"
    assert sum(int(n) for _, n in by_replica) == 16
    total = sum(cost for _, cost in billed)
    assert [usage_total(r.base) for r in cluster.replicas] == [total, total]
    report = subprocess.run([str(WAFER), "usage", "--ledger", cluster.pg.url, "--format", "json"], capture_output=True, text=True, check=True)
    assert D(str(json.loads(report.stdout)["total"]["cost_usd"])) == total


def test_a_file_uploaded_to_one_replica_runs_as_a_batch_created_on_the_other(cluster):
    first, second = (cluster.client(r.base) for r in cluster.replicas)
    uploaded = first.files.create(file=("in.jsonl", batch_lines(6, "x")), purpose="batch")
    assert second.files.retrieve(uploaded.id).bytes == len(batch_lines(6, "x"))
    batch = second.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    done = wait_done(cluster.client(), batch.id)
    assert done.status == "completed" and done.request_counts.completed == 6
    lines = [json.loads(line) for line in first.files.content(done.output_file_id).text.splitlines()]
    assert sorted(line["custom_id"] for line in lines) == [f"x-{i}" for i in range(6)]
    assert all(line["response"]["status_code"] == 200 for line in lines)


def test_a_lost_database_gets_a_clean_503_and_the_ledger_recovers(cluster):
    replica = cluster.replicas[0]
    body = {"model": MODEL_ID, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
    cluster.pg.halt()
    try:
        r = httpx.post(replica.base + "/v1/chat/completions", json=body, timeout=60)
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "ledger_unavailable"
        assert httpx.get(replica.base + "/health", timeout=10).status_code == 503
    finally:
        cluster.pg.start()
    deadline = time.time() + 30
    while httpx.get(replica.base + "/health", timeout=10).status_code != 200:
        assert time.time() < deadline, "the ledger never recovered"
        time.sleep(0.5)
    r = httpx.post(replica.base + "/v1/chat/completions", json=body, timeout=60)
    assert r.status_code == 200
    assert cluster.pg.query(f"SELECT count(*) FROM requests WHERE request_id = '{r.headers['x-request-id']}'") == [["1"]]


def test_a_replica_killed_mid_load_and_mid_batch_loses_and_duplicates_nothing():
    c = Cluster()
    try:
        doomed, survivor = c.replicas
        answered, failed, stop = [], [], threading.Event()
        client = c.client()

        def load(k):
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    answered.append(ask(client, k * 1000 + i, max_tokens=16))
                except openai.APIError as e:
                    failed.append(type(e).__name__)
        threads = [threading.Thread(target=load, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        batch = batch_under_way(c, doomed, 60, "k", answered=5)
        doomed.process.kill()  # SIGKILL: no shutdown, no goodbye
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join()
        # Only requests in flight on the killed replica fail (nginx's 502, or a dropped connection).
        assert set(failed) <= {"InternalServerError", "APIConnectionError"}, failed

        done = wait_done(c.client(survivor.base), batch.id, timeout=240)
        assert done.status == "completed", done
        out = [json.loads(line) for line in c.client(survivor.base).files.content(done.output_file_id).text.splitlines()]
        custom_ids = [line["custom_id"] for line in out]
        assert sorted(custom_ids) == sorted(f"k-{i}" for i in range(60)), "each batch line answered exactly once"
        rows = c.pg.query(f"SELECT custom_id, count(*), sum(cost_usd) FROM requests WHERE batch_id = '{batch.id}' GROUP BY custom_id")
        assert len(rows) == 60 and all(n == "1" for _, n, _ in rows)
        assert sum(D(cost) for _, _, cost in rows) == sum(D(str(line["response"]["body"]["usage"]["cost_usd"])) for line in out)

        # Every answered request has its row at the cost the client was told; rows the dead replica left running
        # are marked interrupted once its heartbeat is stale.
        assert answered, "no request got through"
        costs = dict(c.pg.query("SELECT request_id, cost_usd FROM requests WHERE batch_id IS NULL"))
        assert all(rid in costs and D(costs[rid]) == cost for rid, cost in answered)
        deadline = time.time() + 40
        while c.pg.query("SELECT count(*) FROM requests WHERE finish_reason = 'running'") != [["0"]]:
            assert time.time() < deadline, "rows left running by the dead replica were never marked interrupted"
            time.sleep(1)
        assert usage_total(survivor.base) == D(c.pg.query("SELECT sum(cost_usd) FROM requests")[0][0])
    finally:
        c.stop()


def test_a_paused_replica_whose_batch_was_taken_over_leaves_it_alone():
    """SIGSTOP past the replica timeout: the other replica adopts and completes the batch; once the
    paused one resumes it notices the claim is gone and does not touch the batch's state again."""
    c = Cluster()
    try:
        paused, other = c.replicas
        batch = batch_under_way(c, paused, 40, "p", answered=3)
        paused.process.send_signal(signal.SIGSTOP)
        try:
            done = wait_done(c.client(other.base), batch.id, timeout=240)
        finally:
            paused.process.send_signal(signal.SIGCONT)
        assert done.status == "completed"
        time.sleep(6)  # the resumed replica's next look at its claims, and any state it might still write
        for r in c.replicas:
            again = c.client(r.base).batches.retrieve(batch.id)
            assert (again.status, again.output_file_id) == ("completed", done.output_file_id)
        out = [json.loads(line) for line in c.client(other.base).files.content(done.output_file_id).text.splitlines()]
        assert sorted(line["custom_id"] for line in out) == sorted(f"p-{i}" for i in range(40))
        rows = c.pg.query(f"SELECT count(*) FROM requests WHERE batch_id = '{batch.id}'")
        assert rows == [["40"]]
    finally:
        c.stop()


def test_a_batch_starts_once_although_its_replica_polls_for_batches_to_adopt_meanwhile():
    """`create` claims and starts a batch while the same replica's adoption loop (here every 10 ms) finds it
    unfinished and claimed by that replica: it must run once. Two runners answered its lines twice, billed
    them twice and wrote one output file over each other (a line of it was not JSON)."""
    pg = Postgres()
    replica = Server("--ledger", pg.url, "--batch-poll", "0.01")
    try:
        client = openai.OpenAI(base_url=replica.base + "/v1", api_key="unused", max_retries=0, timeout=120)
        uploaded = client.files.create(file=("in.jsonl", batch_lines(3, "r")), purpose="batch")
        batches = [client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
                   for _ in range(12)]
        for batch in batches:
            done = wait_done(client, batch.id)
            assert done.status == "completed" and done.request_counts.completed == 3, done
            out = [json.loads(line) for line in client.files.content(done.output_file_id).text.splitlines()]
            assert sorted(line["custom_id"] for line in out) == ["r-0", "r-1", "r-2"]
            assert pg.query(f"SELECT count(*) FROM requests WHERE batch_id = '{batch.id}'") == [["3"]]
    finally:
        replica.stop()
        pg.stop()
