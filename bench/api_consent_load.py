"""Benchmark: consent grants and withdrawals through the REST API under 50 concurrent clients.

Target (issue 6): p95 latency at or under 150 ms with no error; afterwards the count of stored
events equals the count of successful responses and the ledger verifies.

What runs: a fresh VAR_DIR with a migrated database (SQLite in WAL mode; PostgreSQL with
--database postgres), a notice, 5,000 subjects, a data steward and an API token, all made through
the services; a real gunicorn server (`gunicorn config.wsgi`, DEBUG off) in a subprocess; and an
asyncio load generator in this process (a small HTTP/1.1 client on asyncio streams).

Client model: closed loop. Each of the 50 clients sends a request, waits for the answer, then
pauses for a think time drawn from an exponential distribution (mean --think, default 1 s) before
the next, as load-test users do (k6 and Locust scripts pause between requests the same way): 50
systems that collect consent, each relaying about one event a second. Each client works through
its own subjects: a grant, then a withdrawal of one purpose, then the next subject, every request
with a fresh event id. A warm-up (not measured) comes first; the requests sent in the measured
window give the figures; every 201, warm-up included, must be a stored event.

`--think 0` is the saturation test: 50 clients that send the next request the moment the answer
comes, so there are always 50 requests at the server. By Little's law its mean latency is then
50 / throughput, so p95 <= 150 ms would take some 400 requests per second from one SQLite writer
on 2 CPU cores that the client shares. It measures the capacity (on the quiet machine 274 requests
per second, p95 217 ms: it misses the target), and `make bench` runs it beside the paced test.
Between the two, on the quiet machine: a mean think time of 0.25 s gave 190 requests/s at p95 31 ms,
0.15 s gave 270 requests/s at p95 67 ms, 0.1 s gave 270 requests/s at p95 116 ms. So 50 clients keep
p95 within 150 ms up to the server's capacity; only with no pause at all, when every client is always
queued, does it rise above.

Server setting (--workers, --threads, --worker-class): 3 sync workers. Chosen with this script on
the 2-core machine, SQLite, 50 clients, 12-20 s per run, while other jobs shared the machine (so the
same setting varied by up to 2x from run to run; saturation figures are the best of 3 runs):

    gunicorn setting           saturation (no think time)       paced (1 s think time)
                               req/s   p50 ms   p95 ms           p50 ms   p95 ms
    gthread 1 worker x 8        116      396      617              17.5     64.9
    gthread 2 workers x 1       107      461      534              10.5     32.6
    gthread 2 workers x 4       103      455      679              12.1     37.3
    gthread 3 workers x 2       103      437      719              14.1     40.7
    sync 2 workers              183      253      389              12.2     23.6
    sync 3 workers              211      232      268              11.0     24.9
    sync 4 workers              193      251      310              12.1     26.1

Sync workers take each request from the kernel's accept queue, first come first served, so the
work spreads evenly over the processes; gthread workers keep each client's connection on the
process that accepted it and pass requests between a polling thread and worker threads that
contend for the GIL. A request is CPU-bound (about 8-9 ms of server CPU), so two processes use the
two cores and a third keeps them busy while another waits for SQLite's write lock; a fourth only
adds contention. Behind a proxy that buffers requests (nginx), sync workers are also gunicorn's
recommended setting. Keeping database connections open between requests (DB_CONN_MAX_AGE, 60 s by
default) matters as much: with a new SQLite connection per request, 3 sync workers spend 12 ms of
CPU per request instead of 8 and saturate at 140 requests per second instead of 211 (p95 419 ms
instead of 268; paced p95 35 ms instead of 24).

Usage: python bench/api_consent_load.py [--database sqlite|postgres] [--clients 50] [--think 1]
           [--duration 20] [--warmup 3] [--workers 3] [--threads 1] [--worker-class sync|gthread]
"""

import argparse
import asyncio
import gc
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness  # noqa: E402

TARGET_P95_MS = 150.0
API = "/api/v1/consent/"
SUBJECTS_PER_CLIENT = 100  # each client cycles over its own: grant, withdraw, next subject, ...

SERVER_WORKER_CLASS, SERVER_WORKERS, SERVER_THREADS = "sync", 3, 1  # chosen by measurement: see the docstring


# Seeding -------------------------------------------------------------------------------------------


def seed(n_subjects: int) -> str:
    """A notice, the subjects and a steward with an API token, all through the services; returns the key."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import transaction

    from consent import services
    from core.audit_log import Actor
    from core.tokens import issue_api_token

    actor = Actor.system("bench")
    services.publish_notice(
        actor=actor, version="1", language="en", title="Research consent", text="We use your photo to check our model.",
        purposes=["training", "evaluation", "bias_audit", "publication"],
        published_at=datetime(2024, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    with transaction.atomic():
        for i in range(n_subjects):
            services.register_subject(
                actor=actor, reference=subject_reference(i), jurisdiction="DE", birth_month=date(1980, 1, 1)
            )
    steward = get_user_model().objects.create_user("bench-steward")
    steward.groups.add(Group.objects.get(name="Data steward"))
    _, key = issue_api_token(actor=Actor.of_user(steward), user=steward, name="load benchmark")
    return key


def subject_reference(i: int) -> str:
    return f"LOAD-{i:06d}"


# The server ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(database_url: str, var_dir: Path, port: int, args) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "VAR_DIR": str(var_dir),
        # Production settings: no per-query debug bookkeeping. TLS would end at a proxy in front.
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + uuid.uuid4().hex * 2,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
    }
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
        "--worker-class", args.worker_class, "--workers", str(args.workers), "--threads", str(args.threads),
        "--backlog", "256", "--keep-alive", "30", "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=harness.ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.1)
    stop_server(server)
    raise RuntimeError("gunicorn did not start listening within 30 s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


# The load --------------------------------------------------------------------------------------------


class Connection:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams.

    aiohttp costs about 0.3-0.4 ms of CPU per request here, this about 0.1 ms; on a 2-core machine
    that the server shares, every millisecond the client spends is taken from the server.
    """

    def __init__(self, port: int, key: str):
        self.port = port
        self.head = f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n".encode()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        data = json.dumps(body).encode() if body is not None else b""
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\n".encode() + self.head
            + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(data) + data
        )  # fmt: skip
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
            headers = {}
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip().lower()
            if b"content-length" not in headers:
                raise RuntimeError("the server answered without a Content-Length")
            content = await self.reader.readexactly(int(headers[b"content-length"]))
        except Exception:
            self.close()
            raise
        if headers.get(b"connection") == b"close":  # gunicorn's sync worker closes after each request
            self.close()
        return int(head[9:12]), content

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Tally:
    def __init__(self):
        self.requests: list[tuple[float, float]] = []  # (start, seconds) of every successful request
        self.successes = 0  # warm-up included: every 201 must be a stored event
        self.errors: dict[str, int] = {}

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


async def client(connection: Connection, number: int, args, tally: Tally, stop_at: float) -> None:
    """One client: for each of its subjects in turn, a grant and then a withdrawal, each with a new event id."""
    run = uuid.uuid4().hex[:8]
    mine = range(number, args.clients * SUBJECTS_PER_CLIENT, args.clients)
    pause = random.Random(number)
    step = 0
    while time.perf_counter() < stop_at:
        if args.think:
            await asyncio.sleep(pause.expovariate(1 / args.think))
            if time.perf_counter() >= stop_at:
                break
        reference = subject_reference(mine[(step // 2) % len(mine)])
        if step % 2 == 0:
            path = API + "events/grant"
            body = {"event_id": f"{run}-{step}", "subject": reference, "purposes": ["evaluation", "bias_audit"],
                    "notice_version": "1", "notice_language": "en", "channel": "api"}  # fmt: skip
        else:
            path = API + "events/withdraw"
            body = {"event_id": f"{run}-{step}", "subject": reference, "purposes": ["evaluation"], "channel": "api"}
        step += 1
        start = time.perf_counter()
        try:
            status, _ = await asyncio.wait_for(connection.request("POST", path, body), timeout=60)
        except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
            tally.error(type(exc).__name__)
            continue
        elapsed = time.perf_counter() - start
        if status == 201:
            tally.successes += 1
            tally.requests.append((start, elapsed))
        else:
            tally.error(f"HTTP {status}")


async def until_every_worker_answers(connections: list[Connection]) -> None:
    """Each gunicorn worker imports the URLconf (every app's API) on its first request, which takes
    seconds; send reads on every connection at once until a whole round comes back quickly."""

    async def read(connection: Connection) -> float:
        start = time.perf_counter()
        status, _ = await connection.request("GET", API + "subjects/" + subject_reference(0))
        if status != 200:
            raise RuntimeError(f"the warm-up read got HTTP {status}")
        return time.perf_counter() - start

    for _ in range(120):
        if max(await asyncio.gather(*(read(connection) for connection in connections))) < 1.0:
            return
    raise RuntimeError("the server never answered a round of reads within 1 s")


class Measured:
    """The requests sent in the measured window (after the warm-up, before the stop), and the CPU spent."""

    def __init__(self, tally: Tally, window: tuple[float, float], server_cpu: float, client_cpu: float):
        start, end = window
        self.tally, self.seconds, self.server_cpu, self.client_cpu = tally, end - start, server_cpu, client_cpu
        self.latencies_ms = [seconds * 1000 for at, seconds in tally.requests if start <= at < end]


async def drive(port: int, key: str, args, server_pid: int) -> Measured:
    tally = Tally()
    connections = [Connection(port, key) for _ in range(args.clients)]
    await until_every_worker_answers(connections)
    started = time.perf_counter()
    window = (started + args.warmup, started + args.warmup + args.duration)
    tasks = [asyncio.create_task(client(c, n, args, tally, window[1])) for n, c in enumerate(connections)]
    await asyncio.sleep(window[0] - time.perf_counter())
    server_cpu, client_cpu = cpu_seconds(server_pid), time.process_time()
    await asyncio.sleep(window[1] - time.perf_counter())
    server_cpu, client_cpu = cpu_seconds(server_pid) - server_cpu, time.process_time() - client_cpu
    await asyncio.gather(*tasks)  # the requests in flight finish; they count as stored events
    for connection in connections:
        connection.close()
    return Measured(tally, window, server_cpu, client_cpu)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (gunicorn's master and workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        this, parent = int(stat.parent.name), int(fields[1])
        if pid in (this, parent):
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


# One run ------------------------------------------------------------------------------------------------


def run(database_url: str, var_dir: Path, args) -> bool:
    """Seed, serve, drive, check, print; returns whether the stored events and the ledger are right."""
    harness.setup_django(database_url, var_dir)
    from django.db import connection

    from consent import ledger
    from consent.models import ConsentEvent

    (var_dir / "static").mkdir(exist_ok=True)  # STATIC_ROOT, so WhiteNoise has nothing to warn about
    seconds, key = harness.timed(seed, args.clients * SUBJECTS_PER_CLIENT)
    print(f"  seeded {args.clients * SUBJECTS_PER_CLIENT:,} subjects, a notice and a token in {seconds:.1f} s")
    seeded_events = ConsentEvent.objects.count()
    connection.close()
    # This process holds Django and every app; leave those objects out of the collector's way while it drives load.
    gc.collect()
    gc.freeze()
    port = free_port()
    load = os.getloadavg()[0]
    server = start_server(database_url, var_dir, port, args)
    try:
        measured = asyncio.run(drive(port, key, args, server.pid))
    finally:
        stop_server(server)

    stored = ConsentEvent.objects.count() - seeded_events
    check = ledger.verify()
    connection.close()  # so that a throwaway PostgreSQL database can be dropped

    tally = measured.tally
    latencies_ms = measured.latencies_ms
    count = len(latencies_ms)
    errors = sum(tally.errors.values())
    p50, p95, p99 = (percentile(latencies_ms, q) for q in (50, 95, 99)) if latencies_ms else (float("nan"),) * 3
    pace = f"think time exponential, mean {args.think * 1000:.0f} ms" if args.think else "no think time"
    wire = (
        "a new connection per request (gunicorn's sync workers close it after each answer)"
        if args.worker_class == "sync"
        else "one keep-alive connection each"
    )
    print(f"  client model: closed loop, {args.clients} clients, {pace};")
    print(f"    {wire};")
    print("    each client sends a grant, then a withdrawal, for its own subjects in turn (fresh event ids);")
    print(f"    {args.warmup:g} s warm-up, then {measured.seconds:g} s measured (requests sent in that window)")
    print(f"  server: gunicorn config.wsgi, {args.workers} {args.worker_class} worker(s) x {args.threads} thread(s), "
          f"DEBUG off; {os.cpu_count()} CPUs shared with the client")  # fmt: skip
    print(f"  machine load average before the run: {load:.2f} (other jobs on the machine slow every figure)")
    print(f"  requests measured: {count:,}; {count / measured.seconds:.0f} requests/s")
    if not args.think and count:
        print(f"    (no think time: by Little's law the mean latency is {args.clients} / throughput = "
              f"{args.clients / (count / measured.seconds) * 1000:.0f} ms)")  # fmt: skip
    print(f"  latency ms: p50 {p50:.1f}, p95 {p95:.1f}, p99 {p99:.1f}, max {max(latencies_ms, default=0):.1f}")
    if count:
        server_ms, client_ms = (cpu / count * 1000 for cpu in (measured.server_cpu, measured.client_cpu))
        print(f"  CPU per request (CPU in the window / requests): server {server_ms:.2f} ms, client {client_ms:.2f} ms")
    print(f"  errors: {errors}" + (f" {tally.errors}" if errors else ""))
    print(f"  stored events {stored:,} vs successful responses {tally.successes:,} (warm-up included): "
          f"{'equal' if stored == tally.successes else 'DIFFERENT'}")  # fmt: skip
    print(f"  ledger: {check.summary()}")
    intact = stored == tally.successes and check.ok
    meets = p95 <= TARGET_P95_MS and errors == 0 and intact
    print(f"  target p95 <= {TARGET_P95_MS:.0f} ms, no error, counts equal, ledger intact; "
          f"p95 / target = {p95 / TARGET_P95_MS:.2f} ({'meets' if meets else 'MISSES'} the target)")  # fmt: skip
    return intact


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=float(os.environ.get("BENCH_API_SECONDS", 20)))
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--think", type=float, default=1.0, help="mean think time per client, seconds; 0: none")
    parser.add_argument("--workers", type=int, default=SERVER_WORKERS)
    parser.add_argument("--threads", type=int, default=SERVER_THREADS)
    parser.add_argument("--worker-class", choices=["gthread", "sync"], default=SERVER_WORKER_CLASS)
    args = parser.parse_args()
    with harness.temp_dir("bench-api-") as tmp:
        tmp = Path(tmp)
        pace = f"paced, {args.think:g} s mean think time" if args.think else "saturation, no think time"
        if args.database == "sqlite":
            print(f"consent API under load, {args.clients} clients ({pace}), SQLite")
            return 0 if run(harness.sqlite_url(tmp), tmp, args) else 1
        url = os.environ.get("BENCH_POSTGRES_URL", harness.DEFAULT_POSTGRES_URL)
        with harness.postgres_database(url) as database_url:
            if database_url is None:
                print(f"consent API under load on PostgreSQL: skipped, no server at {url}")
                return 0
            print(f"consent API under load, {args.clients} clients ({pace}), PostgreSQL")
            return 0 if run(database_url, tmp, args) else 1


if __name__ == "__main__":
    sys.exit(main())
