"""The benchmark suite behind `bench/run`: runs every measurement and rewrites
docs/BENCHMARKS.md. Standard library only; the FalconPy scripts run in the
project's .venv. Every server is the bench emulator (`falcon-bench serve`) on
127.0.0.1.

    python3 bench/suite.py [--quick]

`--quick` shrinks sizes and repetitions to check the suite itself in a minute;
its figures are not the benchmark's.
"""

import argparse
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
HOST = TARGET / "release" / "host"
BENCH = TARGET / "release" / "falcon-bench"
WASMTIME = ROOT / "bench" / ".tools" / "bin" / "wasmtime"
PROBE = TARGET / "wasm32-wasip2" / "plugin" / "bench_probe.wasm"
HELLO = TARGET / "wasm32-wasip2" / "plugin" / "bench-hello.wasm"
AUDIT = ROOT / "plugins" / "access-audit.wasm"
INVENTORY = ROOT / "plugins" / "sensor-health.wasm"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
FALCONPY = ROOT / "bench" / "falconpy"

# Page sizes and id caps (falcon-api.md §5), for the minimum request counts.
USERS_PAGE = 500          # GET /user-management/queries/users/v1, limit 1-500
USERS_IDS = 5000          # POST /user-management/entities/users/GET/v1
COMBINED_DEVICES = 10000  # GET /devices/combined/devices/v1, limit 1-10000, full records
SCROLL_PAGE = 5000        # GET /devices/queries/devices-scroll/v1
DEVICE_IDS = 5000         # POST /devices/entities/devices/v2


def say(message):
    print(f"==> {message}", file=sys.stderr, flush=True)


def stats(samples):
    """`{median, min, max, n}` of a list of numbers."""
    values = sorted(samples)
    n = len(values)
    if n == 0:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}
    mid = values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2
    return {"median": mid, "min": values[0], "max": values[-1], "n": n}


def fmt(s, digits=1, unit=""):
    """`median (min – max) unit`."""
    f = f"{{:,.{digits}f}}"
    return (f"{f.format(s['median'])} ({f.format(s['min'])} – {f.format(s['max'])}){unit}"
            if s["n"] > 1 else f"{f.format(s['median'])}{unit} (1 run)")


class Emulator:
    """`falcon-bench serve` in a child process, with its request counts."""

    def __init__(self, users, hosts, latency_ms=0, rate_limit=1_000_000_000):
        self.process = subprocess.Popen(
            [str(BENCH), "serve", "--users", str(users), "--hosts", str(hosts),
             "--latency-ms", str(latency_ms), "--rate-limit", str(rate_limit)],
            stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit("error: the bench emulator did not start")
        ready = json.loads(line)
        self.url = ready["url"]
        self.generate_s = ready["generate_s"]
        self.env = dict(os.environ,
                        FALCON_CLOUD=self.url, FALCON_BASE_URL=self.url,
                        FALCON_CLIENT_ID=ready["client_id"],
                        FALCON_CLIENT_SECRET=ready["client_secret"])

    def stats(self):
        with urllib.request.urlopen(f"{self.url}/_bench/stats", timeout=10) as response:
            return json.load(response)

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.process.terminate()
        self.process.wait()


def difference(after, before):
    """Requests between two stats snapshots: total, oauth, and API by status."""
    statuses = {k: v - before["statuses"].get(k, 0) for k, v in after["statuses"].items()}
    return {
        "requests": after["requests"] - before["requests"],
        "oauth": after["oauth"] - before["oauth"],
        "statuses": {k: v for k, v in statuses.items() if v},
    }


class Suite:
    def __init__(self, quick):
        self.quick = quick
        self.tmp = Path(tempfile.mkdtemp(prefix="falcon-bench-"))
        self.audit_log = self.tmp / "audit.jsonl"
        self.results = {}
        (self.tmp / "config").mkdir()
        # The host reads no operator's config or grants file during the benchmark.
        self.host_env_extra = {
            "XDG_CONFIG_HOME": str(self.tmp / "config"),
            "FALCON_HOST_GRANTS": str(self.tmp / "config" / "grants.toml"),
        }

    def host_cmd(self, plugin, *args, cache=None, audit_log=None):
        cmd = [str(HOST), "-q", "run", str(plugin), "--audit-log",
               str(audit_log or self.audit_log)]
        cmd += ["--cache-dir", str(cache or self.tmp / "cache")]
        return cmd + list(args)

    def run_measured(self, cmd, env, what):
        """Wall seconds, max RSS in MiB and stdout of one process."""
        rss_file = self.tmp / "rss"
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(rss_file)] + cmd,
                              env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"error: {what} failed (exit {done.returncode}):\n"
                             f"{done.stderr[-2000:]}")
        rss = int(rss_file.read_text().split()[-1]) / 1024
        return wall, rss, done.stdout

    # 1. Start-up --------------------------------------------------------------
    def startup(self):
        say("start-up: host run (cold, warm) against wasmtime run (cold, precompiled)")
        runs = 5 if self.quick else 20
        cold_runs = 3 if self.quick else 10
        cache = self.tmp / "startup-cache"
        precompiled = self.tmp / "hello.cwasm"
        shm = Path(tempfile.mkdtemp(prefix="falcon-bench-", dir="/dev/shm"))
        subprocess.run([str(WASMTIME), "compile", str(HELLO), "-o", str(precompiled)], check=True)
        with Emulator(users=100, hosts=100) as emulator:
            env = dict(emulator.env, **self.host_env_extra)
            grant = ["--grant", "hosts:read,roles:read"]
            commands = {
                "host_cold": " ".join(self.host_cmd(PROBE, "--no-cache", *grant)),
                "host_warm": " ".join(self.host_cmd(PROBE, *grant, cache=cache)),
                # The same with the audit log in memory: what its fsyncs cost.
                "host_warm_tmpfs": " ".join(self.host_cmd(
                    PROBE, *grant, cache=cache, audit_log=shm / "audit.jsonl")),
                "wasmtime_cold": f"{WASMTIME} run -C cache=n {HELLO}",
                "wasmtime_warm": f"{WASMTIME} run --allow-precompiled {precompiled}",
            }
            before = emulator.stats()
            for name, command in commands.items():
                export = self.tmp / f"{name}.json"
                n = cold_runs if name.endswith("cold") else runs
                subprocess.run(["hyperfine", "-N", "--warmup", "3", "--runs", str(n),
                                "--export-json", str(export), command],
                               env=env, check=True, stdout=subprocess.DEVNULL)
                times = json.loads(export.read_text())["results"][0]["times"]
                self.results[name] = stats([t * 1e3 for t in times])
            self.results["startup_requests"] = difference(emulator.stats(), before)
        shutil.rmtree(shm, ignore_errors=True)
        self.results["probe_bytes"] = PROBE.stat().st_size
        self.results["hello_bytes"] = HELLO.stat().st_size

    # 1b. In-process instantiation --------------------------------------------
    def instantiate(self):
        say("in-process instantiation, on-demand and pooling allocator")
        iterations = 200 if self.quick else 2000
        out = subprocess.run([str(BENCH), "instantiate", str(PROBE),
                              "--iterations", str(iterations)],
                             check=True, capture_output=True, text=True).stdout
        self.results["instantiate"] = json.loads(out)

    # 2. Call overhead -------------------------------------------------------
    def call_overhead(self):
        say("call overhead: runtime.now, gated empty reads, list-roles")
        reps = 2 if self.quick else 3
        calls = {"now": 20_000 if self.quick else 1_000_000,
                 "empty_reads": 100 if self.quick else 500,
                 "roles": 100 if self.quick else 1000}
        per_call = {k: [] for k in calls}
        with Emulator(users=100, hosts=100) as emulator:
            env = dict(emulator.env, **self.host_env_extra)
            for _ in range(reps):
                for kind, n in calls.items():
                    _, _, out = self.run_measured(
                        self.host_cmd(PROBE, "--grant", "hosts:read,roles:read",
                                      "--input", json.dumps({kind: n}), "--max-calls",
                                      str(n + 10)),
                        env, f"the {kind} call loop")
                    per_call[kind].append(json.loads(out)[f"{kind}_ns"] / n)
        self.results["calls"] = {k: stats(v) for k, v in per_call.items()}
        self.results["call_counts"] = calls

    # 3. API efficiency ------------------------------------------------------
    def audit_cmd(self):
        return self.host_cmd(AUDIT, "--grant", "users:read,roles:read", "--set", "format=json",
                             "--max-calls", "100000")

    def inventory_cmd(self):
        return self.host_cmd(INVENTORY, "--grant", "hosts:read,sensor-update-policies:read",
                             "--set", "format=json", "--max-memory", "4GiB")

    def api_efficiency(self):
        sizes = [1000, 10_000] if self.quick else [1000, 10_000, 100_000]
        rows = []
        for size in sizes:
            say(f"API requests on a tenant of {size:,} users and {size:,} hosts")
            with Emulator(users=size, hosts=size) as emulator:
                env = dict(emulator.env, **self.host_env_extra)
                for name, cmd, minimum in [
                    ("access-audit", self.audit_cmd(), audit_minimum(size)),
                    ("sensor-health", self.inventory_cmd(), inventory_minimum(size)),
                ]:
                    before = emulator.stats()
                    wall, rss, _ = self.run_measured(cmd, env, f"{name} on {size:,} objects")
                    made = difference(emulator.stats(), before)
                    rows.append({"plugin": name, "size": size, "made": made, "minimum": minimum,
                                 "wall_s": wall, "rss_mib": rss})
        self.results["api"] = rows

    # 4. Against FalconPy ----------------------------------------------------
    def falconpy(self):
        users, hosts = (2000, 20_000) if self.quick else (10_000, 100_000)
        reps = 1 if self.quick else 2
        # One request per user and 20 ms each: the sequential FalconPy audit of
        # 10,000 users alone takes minutes, so it runs once in the 15-minute budget.
        falconpy_audit_reps = 1
        say(f"workflows against FalconPy: {users:,} users, {hosts:,} hosts, 20 ms per request, "
            f"{reps} runs each (FalconPy's audit {falconpy_audit_reps})")
        samples = {k: {"wall": [], "rss": [], "requests": []} for k in
                   ["host_audit", "falconpy_audit", "host_inventory", "falconpy_inventory"]}
        checks = {}
        with Emulator(users=users, hosts=hosts, latency_ms=20) as emulator:
            env = dict(emulator.env, **self.host_env_extra)
            py = [str(VENV_PYTHON)]
            runs = [
                ("host_audit", self.audit_cmd()),
                ("falconpy_audit", py + [str(FALCONPY / "access_audit.py")]),
                ("host_inventory", self.inventory_cmd()),
                ("falconpy_inventory", py + [str(FALCONPY / "host_inventory.py")]),
            ]
            for rep in range(reps):
                for name, cmd in runs:
                    if name == "falconpy_audit" and rep >= falconpy_audit_reps:
                        continue
                    before = emulator.stats()
                    wall, rss, out = self.run_measured(cmd, env, name)
                    made = difference(emulator.stats(), before)
                    samples[name]["wall"].append(wall)
                    samples[name]["rss"].append(rss)
                    samples[name]["requests"].append(made["requests"])
                    checks[name] = summarize_output(name, out)
        self.results["falconpy"] = {
            "users": users, "hosts": hosts, "reps": reps,
            "figures": {k: {m: stats(v) for m, v in s.items()} for k, s in samples.items()},
            "checks": checks,
        }

    # 5. Rate-limit throughput -----------------------------------------------
    def rate_limit(self):
        limit = 600  # per minute: Falcon's 6,000 scaled down tenfold
        plugins = 4
        reps = 1 if self.quick else 2
        refill = limit / 60
        seconds = 10 if self.quick else 30
        # Enough work to drain the bucket and then keep asking for `seconds`.
        calls = math.ceil((limit + refill * seconds) / 2 / plugins)
        say(f"rate limit: {plugins} plugins sharing {limit} requests per minute, {reps} runs")
        results = []
        for _ in range(reps):
            with Emulator(users=100, hosts=100, rate_limit=limit) as emulator:
                env = dict(emulator.env, **self.host_env_extra)
                samples = []
                stop = threading.Event()

                def sample():
                    while not stop.is_set():
                        try:
                            samples.append((time.perf_counter(), emulator.stats()))
                        except OSError:
                            return
                        stop.wait(0.25)

                sampler = threading.Thread(target=sample)
                started = time.perf_counter()
                sampler.start()
                # One audit log each: the host's log is one hash chain per process
                # and does not take concurrent writers.
                cmds = [self.host_cmd(PROBE, "--grant", "hosts:read,roles:read",
                                      "--input", json.dumps({"roles": calls}),
                                      "--max-calls", str(calls + 10),
                                      audit_log=self.tmp / f"audit-{i}.jsonl")
                        for i in range(plugins)]
                children = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, text=True)
                            for cmd in cmds]
                finished, failures, waits = [], [], 0
                for child in children:
                    out, err = child.communicate()
                    finished.append(time.perf_counter())
                    if child.returncode != 0:
                        failures.append(err[-2000:])
                    else:
                        waits += json.loads(out).get("rate_limited_waits", 0)
                stop.set()
                sampler.join()
                if failures:
                    raise SystemExit(f"error: a rate-limited run failed: {failures[0]}")
                result = rate_window(samples, started, min(finished), limit,
                                     time.perf_counter() - started)
                result["plugin_waits"] = waits
                results.append(result)
        self.results["rate"] = {"limit": limit, "plugins": plugins, "calls": calls,
                                "runs": results}

    # 6. Concurrency ---------------------------------------------------------
    def concurrency(self):
        say("100 runs at once in one process")
        reps = 2 if self.quick else 3
        payload = json.dumps({"now": 1000, "report_kib": 64})
        figures = {}
        for pooling in [False, True]:
            outs = []
            for _ in range(reps):
                cmd = [str(BENCH), "concurrency", str(PROBE), "--runs", "100", "--input", payload]
                if pooling:
                    cmd.append("--pooling")
                outs.append(json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                                      text=True).stdout))
            figures["pooling" if pooling else "on_demand"] = {
                "wall_per_run_ms": stats([o["wall_per_run_ms"] for o in outs]),
                "wall_ms": stats([o["wall_ms"] for o in outs]),
                "run_ms": stats([o["run_ms"]["median"] for o in outs]),
                "rss_per_run_mib": stats([o["rss_per_run_kib"] / 1024 for o in outs]),
                "linear_per_run_mib": stats([o["linear_memory_per_run_kib"]["median"] / 1024
                                             for o in outs]),
            }
        self.results["concurrency"] = {"input": payload, "figures": figures}

    # The emulator's own figures (kept from the emulator's benchmark) ---------
    def emulator_figures(self):
        say("emulator: tenant generation and small-request throughput")
        reps = 2 if self.quick else 5
        times = []
        for _ in range(reps):
            line = subprocess.run(
                [str(HOST), "emulator", "--generate-only", "--hosts", "100000", "--users",
                 "10000", "--alerts", "50000", "--incidents", "5000", "--iocs", "2000"],
                check=True, capture_output=True, text=True)
            text = line.stdout + line.stderr
            times.append(float(re.search(r" in ([0-9.]+)s", text).group(1)))
        self.results["generate_s"] = stats(times)
        rates = []
        with Emulator(users=64, hosts=120) as emulator:
            token = json.loads(subprocess.run(
                ["curl", "-s", "-X", "POST", f"{emulator.url}/oauth2/token",
                 "-d", f"client_id={emulator.env['FALCON_CLIENT_ID']}",
                 "-d", f"client_secret={emulator.env['FALCON_CLIENT_SECRET']}"],
                check=True, capture_output=True, text=True).stdout)["access_token"]
            for _ in range(2 if self.quick else 3):
                out = subprocess.run(
                    ["wrk", "-t1", "-c32", "-d3s" if self.quick else "-d5s",
                     "-H", f"Authorization: Bearer {token}",
                     f"{emulator.url}/devices/queries/devices/v1?limit=1"],
                    check=True, capture_output=True, text=True).stdout
                rates.append(float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1)))
        self.results["wrk_rps"] = stats(rates)


def audit_minimum(users):
    """Requests the access audit cannot go below: the user pages, the details,
    the role list and its details, one grants page per user (the grants
    endpoint takes one `user_uuid`), and one token."""
    return (math.ceil(users / USERS_PAGE) + math.ceil(users / USERS_IDS) + 2 + users + 1)


def inventory_minimum(hosts):
    """Requests the inventory cannot go below: full records 10,000 per page
    from the combined endpoint, the builds, and one token."""
    return math.ceil(hosts / COMBINED_DEVICES) + 1 + 1


def summarize_output(name, out):
    """The counts both implementations report, to check they did the same work."""
    data = json.loads(out)
    if name == "host_audit":
        return {"user_count": data["user_count"], "role_count": data["role_count"],
                "counts": {k: data["counts"][k] for k in
                           ["inactive", "never_logged_in", "administrators", "without_roles"]}}
    if name == "host_inventory":
        return {"host_count": data["host_count"],
                "counts": {k: len(data[k]) for k in
                           ["outdated", "reduced_functionality_mode", "not_seen"]}}
    return data


def rate_window(samples, started, first_done, limit, total_s):
    """Steady state: from the first sample at which the CID's budget had come
    down to the Falcon client's reserve (5 %), to the last sample before the
    first plugin finished. The share is the requests answered 200 in it over
    what the refill allowed; the budget left at either end is recorded, since
    it moves the share by (start - end) / allowed."""
    refill = limit / 60
    reserve = 0.05 * limit

    def ok(s):
        return s["statuses"].get("200", 0)

    def refused(s):
        return s["statuses"].get("429", 0)

    drained = next((i for i, (_, s) in enumerate(samples)
                    if s.get("remaining") is not None and s["remaining"] <= reserve), None)
    end = max((i for i, (t, _) in enumerate(samples) if t <= first_done), default=None)
    last = samples[-1][1]
    result = {"total_s": total_s, "ok": ok(last), "429": refused(last),
              "budget": limit + refill * total_s}
    result["share_total"] = ok(last) / result["budget"]
    if drained is None or end is None or end <= drained:
        result["steady"] = None
        return result
    (t0, s0), (t1, s1) = samples[drained], samples[end]
    window = t1 - t0
    result["steady"] = {
        "from_s": t0 - started, "seconds": window,
        "ok": ok(s1) - ok(s0), "429": refused(s1) - refused(s0),
        "share": (ok(s1) - ok(s0)) / (refill * window) if window > 0 else float("nan"),
        "remaining_start": s0.get("remaining"), "remaining_end": s1.get("remaining"),
    }
    return result


def command_output(cmd):
    try:
        done = subprocess.run(cmd, capture_output=True, text=True)
        return (done.stdout or done.stderr).strip().splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def machine():
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    falconpy = command_output([str(VENV_PYTHON), "-c",
                               "import falconpy; print(falconpy.__version__)"])
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem_kib / 1024 / 1024,
        "kernel": platform.release(),
        "load": Path("/proc/loadavg").read_text().split()[:3],
        "rustc": command_output(["rustc", "--version"]),
        "wasmtime": command_output([str(WASMTIME), "--version"]),
        "falconpy": falconpy,
        "python": command_output([str(VENV_PYTHON), "--version"]),
        "hyperfine": command_output(["hyperfine", "--version"]),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and few runs, to check the suite; not for the docs")
    parser.add_argument("--out", help="the report (default: docs/BENCHMARKS.md, or "
                        "target/bench/BENCHMARKS-quick.md with --quick)")
    parser.add_argument("--render", action="store_true",
                        help="measure nothing: rewrite the report from the raw figures of the "
                        "last run (after a change to bench/report.py)")
    args = parser.parse_args()
    results_dir = TARGET / "bench"
    results_dir.mkdir(parents=True, exist_ok=True)
    if args.out is None:
        args.out = str(results_dir / "BENCHMARKS-quick.md" if args.quick
                       else ROOT / "docs" / "BENCHMARKS.md")
    raw = results_dir / ("results-quick.json" if args.quick else "results.json")
    if args.render:
        from report import render
        if not raw.exists():
            raise SystemExit(f"error: `{raw}` is missing; run bench/run to measure first")
        Path(args.out).write_text(render(json.loads(raw.read_text()), args.quick))
        say(f"rewrote {args.out} from {raw}")
        return
    for path in [HOST, BENCH, WASMTIME, PROBE, HELLO, AUDIT, INVENTORY, VENV_PYTHON]:
        if not path.exists():
            raise SystemExit(f"error: `{path}` is missing; run bench/run, which builds it")

    suite = Suite(args.quick)
    suite.results["load_start"] = Path("/proc/loadavg").read_text().split()[:3]
    started = time.perf_counter()
    try:
        for step in [suite.startup, suite.instantiate, suite.call_overhead, suite.concurrency,
                     suite.rate_limit, suite.api_efficiency, suite.falconpy,
                     suite.emulator_figures]:
            step_started = time.perf_counter()
            step()
            say(f"  {step.__name__}: {time.perf_counter() - step_started:.0f} s")
    finally:
        shutil.rmtree(suite.tmp, ignore_errors=True)
    suite.results["suite_s"] = time.perf_counter() - started
    suite.results["machine"] = machine()
    raw.write_text(json.dumps(suite.results, indent=1))
    from report import render
    Path(args.out).write_text(render(suite.results, args.quick))
    say(f"wrote {args.out} in {suite.results['suite_s']:.0f} s (raw figures: {raw})")


if __name__ == "__main__":
    main()
