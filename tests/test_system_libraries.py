"""Without the X11 libraries Qt needs, the app says which system packages to install instead of aborting."""
from __future__ import annotations

from cyclegan_workbench.app import main as entry
from cyclegan_workbench.app import system_libraries

LDD = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt5XcbQpa.so.5 => /venv/PyQt5/Qt5/lib/libQt5XcbQpa.so.5 (0x00007f1)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-xinerama.so.0 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f2)
\tlibxcb-icccm.so.4 => not found
"""


def test_the_missing_libraries_are_read_off_the_loader():
    assert system_libraries.missing_libraries(LDD) == ["libxcb-icccm.so.4", "libxcb-xinerama.so.0"]


def test_the_window_command_names_the_packages_to_install_and_exits(monkeypatch, capsys):
    monkeypatch.setattr(system_libraries, "uses_xcb", lambda: True)
    parse = system_libraries.missing_libraries
    monkeypatch.setattr(system_libraries, "missing_libraries", lambda ldd_output=None: parse(LDD))

    def no_window():
        raise AssertionError("the window was created although Qt cannot load its platform")

    from cyclegan_workbench.app import main_window

    monkeypatch.setattr(main_window, "launch", no_window)
    assert entry.main([]) == 2
    err = capsys.readouterr().err
    assert "libxcb-icccm.so.4, libxcb-xinerama.so.0" in err
    assert "sudo apt-get install libxcb-icccm4 libxcb-xinerama0" in err
    assert "sudo dnf install libxcb xcb-util-wm" in err


def test_other_platforms_are_not_checked(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert not system_libraries.uses_xcb()
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert system_libraries.uses_xcb()
