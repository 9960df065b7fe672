"""Cold start: from starting `signalcraft serve` in an empty directory (so it also creates and
migrates the database) until `GET /readyz` first answers 200, polled every 20 ms. Also the
process's CPU seconds until then (user + system, from /proc), which a busy machine changes
little. Target (docs/install.md): under 3 s for the binary.

    .venv/bin/python scripts/bench/cold_start.py [--binary PATH] [--runs 7]

Without --binary it measures `.venv/bin/signalcraft` (the same code from the virtualenv);
with it, the PyInstaller executable (e.g. the path scripts/build-binary prints).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def one_run(command: list[str]) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="signalcraft-cold-") as tmp:
        port = free_port()
        env = {**os.environ, "SIGNALCRAFT_SERVER_PORT": str(port), "TMPDIR": tmp}
        url = f"http://127.0.0.1:{port}/readyz"
        started = time.monotonic()
        proc = subprocess.Popen(
            [*command, "serve"], cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"serve exited with {proc.returncode} before /readyz answered")
                try:
                    with urllib.request.urlopen(url, timeout=1) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() - started > 60:
                    raise SystemExit("not ready within 60 s")
                time.sleep(0.02)
            wall = time.monotonic() - started
            cpu = cpu_seconds(proc.pid)
            # A one-file binary's bootloader is the parent of the Python process: count both.
            children = subprocess.run(
                ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, check=False
            ).stdout.split()
            cpu += sum(cpu_seconds(int(c)) for c in children)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--binary", help="the PyInstaller executable (default: the virtualenv's entry point)")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    command = [args.binary] if args.binary else [str(ROOT / ".venv" / "bin" / "signalcraft")]
    walls: list[float] = []
    cpus: list[float] = []
    load = os.getloadavg()[0]
    for _ in range(max(1, min(args.runs, 50))):
        wall, cpu = one_run(command)
        walls.append(wall)
        cpus.append(cpu)
    print(f"{command[0]}: {len(walls)} runs, load average {load:.1f} -> {os.getloadavg()[0]:.1f}")
    print(
        f"  ready after: median {statistics.median(walls):.2f} s (min {min(walls):.2f}, max {max(walls):.2f})"
    )
    print(f"  CPU seconds until ready: median {statistics.median(cpus):.2f} (min {min(cpus):.2f})")
    sys.exit(0)


if __name__ == "__main__":
    main()
