"""Where a host's time goes through the front door: py-spy on a real host during HTTP runs.

    python -m benchmarks.peers_http_profile --py-spy /tmp/pyspy-venv/bin/py-spy [--mode poll|sse]
        [--kind fan_out] [--size 500] [--runs 5] [--idle] [--raw FILE]

Starts a host as the front-door rows do (``benchmarks/peers_http.py``), runs the workload once
untimed, then samples the host process with py-spy (``--threads --gil``: only samples holding
the interpreter; ``--idle`` instead: wall time, waits included) while the client runs it
``--runs`` times, and prints each thread role's share of the samples and the functions that
take most of the HTTP side (the event loop's thread). py-spy is not a project dependency:
install it in a throwaway venv (``python -m venv /tmp/pyspy-venv && /tmp/pyspy-venv/bin/pip
install py-spy``). The figures in docs/performance.md (issue 22) come from this.
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.peers_http import HttpRunner
from benchmarks.peers_workloads import build

__all__ = ["main", "summarise"]

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>.*?):\d+\)$")
_PROJECT = ("convergio/", "activities/", "orchestrations/")
_SERVING = ("convergio/__main__.py", "convergio/cli.py", "convergio/host/_host.py", "convergio/host/_gate.py")
"""The host's own serving frames, above every request: left out of the list."""


def summarise(raw: str, top: int = 25) -> str:
    """Thread roles' shares, then the project's functions on the event loop's thread (inclusive)."""
    threads: collections.Counter[str] = collections.Counter()
    loop: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        name = re.sub(r"_\d+$", "", frames[0].split(": ", 1)[-1])
        total += int(count)
        threads[name] += int(count)
        if name == "MainThread":
            seen = set()
            for frame in frames[1:]:
                match = _FRAME.match(frame)
                if match is None or not match["file"].startswith(_PROJECT) or match["file"] in _SERVING:
                    continue
                key = f"{match['function']} ({match['file']})"
                if key not in seen:
                    seen.add(key)
                    loop[key] += int(count)
    if not total:
        return "no samples (is py-spy allowed to attach? run as the same user, or with ptrace rights)"
    lines = [f"{total} samples"]
    lines += [f"{100 * n / total:5.1f} %  {name}" for name, n in threads.most_common()]
    lines.append("event loop thread (HTTP), the project's functions, inclusive:")
    lines += [f"{100 * n / total:5.1f} %  {name}" for name, n in loop.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--py-spy", type=Path, required=True, help="the py-spy executable")
    parser.add_argument("--mode", choices=("poll", "sse"), default="poll")
    parser.add_argument("--kind", default="fan_out")
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", action="store_true", help="wall-clock samples instead of GIL holders")
    parser.add_argument(
        "--raw", type=Path, help="keep py-spy's raw samples here (for /tmp/agg.py-style tools)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="front-door-profile-") as home:
        runner = HttpRunner(args.mode, Path(home))
        try:
            workload = build(args.kind, args.size)
            run = runner.prepare(workload)
            run()  # warm-up, untimed and unsampled
            out = Path(home) / "profile.txt"
            sampling = ["--idle"] if args.idle else ["--gil"]
            command = [str(args.py_spy), "record", "--pid", str(runner.host.pid), "--rate", "200"]
            command += ["--format", "raw", "--threads", "--nonblocking", *sampling, "-o", str(out)]
            spy = subprocess.Popen(
                command,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)  # let py-spy attach
            began = time.perf_counter()
            for _ in range(args.runs):
                run()
            elapsed = time.perf_counter() - began
            spy.send_signal(2)
            spy.wait(60)
            nodes = len(workload.nodes)
            print(f"{args.mode}, {workload.label}: {1000 * elapsed / args.runs / nodes:.2f} ms per node")
            raw = out.read_text() if out.exists() else ""
            if args.raw is not None:
                args.raw.write_text(raw)
            print(summarise(raw))
        finally:
            runner.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
