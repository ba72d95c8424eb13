"""A private Xvfb server on a free display, for the screenshots, the GUI benchmark and the xcb test."""
from __future__ import annotations

import os
import shutil
import subprocess


def start_xvfb(size: str = "1280x800") -> tuple[subprocess.Popen, str]:
    """Starts Xvfb (it picks a free display number and writes it to a pipe); (process, ":N").

    RuntimeError when Xvfb is not installed (apt-get install xvfb) or does not start.
    """
    if shutil.which("Xvfb") is None:
        raise RuntimeError("Xvfb is not installed (apt-get install xvfb)")
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{size}x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    if not number or proc.poll() is not None:
        proc.kill()
        raise RuntimeError("Xvfb did not start")
    return proc, f":{number}"


def rerun_under_xvfb(script: str, args: list[str], size: str = "1280x800") -> int:
    """Runs `python script args` as a child on a private Xvfb and returns its exit code.

    A child, so that the server is stopped whatever happens to the Qt process (an abort skips Python's
    clean-up). RuntimeError as start_xvfb.
    """
    import sys

    server, display = start_xvfb(size)
    try:
        return subprocess.call([sys.executable, script, *args], env={**os.environ, "DISPLAY": display})
    finally:
        server.terminate()
        server.wait(10)
