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
