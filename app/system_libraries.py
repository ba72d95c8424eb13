"""Whether Qt's X11 platform plugin can load here, and which system packages to install when it cannot.

PyQt5's wheel ships Qt itself but not the X11/xcb libraries of the system; without them Qt prints "could
not load the Qt platform plugin xcb" and aborts the process. `missing_message()` is checked before the
window is created and names the missing libraries and the packages that bring them.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# soname -> (Debian/Ubuntu package, Fedora package)
PACKAGES = {
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libXext.so.6": ("libxext6", "libXext"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
}


def uses_xcb() -> bool:
    """Whether Qt will pick its X11 platform: Linux, and no other platform asked for."""
    return sys.platform.startswith("linux") and os.environ.get("QT_QPA_PLATFORM", "xcb").split(":")[0] == "xcb"


def xcb_plugin() -> Path | None:
    try:
        import PyQt5
    except ImportError:
        return None
    plugin = Path(PyQt5.__file__).parent / "Qt5" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def missing_libraries(ldd_output: str | None = None) -> list[str]:
    """Sonames the xcb plugin needs and the dynamic loader cannot find (from `ldd`, which lists all levels)."""
    if ldd_output is None:
        plugin, ldd = xcb_plugin(), shutil.which("ldd")
        if plugin is None or ldd is None:
            return []
        try:
            ldd_output = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.SubprocessError):
            return []
    missing = []
    for line in ldd_output.splitlines():
        name, _, where = line.strip().partition("=>")
        if where.strip() == "not found" and name.strip() not in missing:
            missing.append(name.strip())
    return missing


def missing_message(missing: list[str]) -> str:
    """What to tell the user when `missing` is not empty."""
    debian = sorted({PACKAGES[s][0] for s in missing if s in PACKAGES})
    fedora = sorted({PACKAGES[s][1] for s in missing if s in PACKAGES})
    lines = [f"the window cannot open: Qt's X11 platform (xcb) needs system libraries that are missing: "
             f"{', '.join(missing)}."]
    if debian:
        lines += ["Install them, then start the workbench again:",
                  f"  Debian/Ubuntu: sudo apt-get install {' '.join(debian)}",
                  f"  Fedora:        sudo dnf install {' '.join(fedora)}"]
    lines.append("The command-line subcommands (cyclegan-workbench --help) work without them.")
    return "\n".join(lines)
