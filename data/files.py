"""Writing files without losing anything: atomic writes, folders the program may write into, leftovers.

- `atomic_write_bytes`/`_text`: readers see the old file or the new one, never a partial one.
- `claim_folder`: the program writes only into a folder that is new, empty, or marked as its own (a run's
  config.json, a dataset's manifest.json, a translation folder's marker); anything else is refused
  before a byte is written, with a message that says what to do.
- `remove_leftovers`: the temporary files and folders of writes killed half-way (SIGKILL, power loss)
  carry the writer's process id; the next start removes those whose writer is gone.
- `read_json`: any damaged, non-UTF-8 or absurdly nested JSON file becomes one clear UserError.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from cyclegan_workbench.data.errors import UserError

# Temporary names: ".<name>.<pid>-<random>.tmp" (files) and ".<name>.partial-<pid>-<random>" (folders).
_TMP_FILE = re.compile(r"^\..+\.(\d+)-[^.]+\.tmp$")
_TMP_DIR = re.compile(r"^\..+\.partial-(\d+)-\w+$")
# Written by earlier versions, without a process id: always leftovers.
_OLD_TMP_FILE = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
_OLD_TMP_DIR = re.compile(r"^\..+\.partial-[a-z0-9_]{8}$")


def _default_mode(bits: int) -> int:
    umask = os.umask(0)  # the only way to read the umask is to set it; put it straight back
    os.umask(umask)
    return bits & ~umask


FILE_MODE = _default_mode(0o666)
FOLDER_MODE = _default_mode(0o777)


# --- atomic writes -------------------------------------------------------------------------------
def atomic_write_bytes(path: str | Path, payload: bytes) -> None:
    """Write `payload` to `path` so that readers see the old file or the new one, never a partial one."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise UserError(f"could not write {path}: {exc.strerror or exc}") from exc
    try:
        if hasattr(os, "fchmod"):  # POSIX: mkstemp makes 0600 files; give the usual permissions
            os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _remove_quietly(tmp)
        raise UserError(f"could not write {path}: {exc.strerror or exc} (the previous file, if any, "
                        "is unchanged)") from exc
    except BaseException:
        _remove_quietly(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def temporary_folder(beside: Path) -> Path:
    """A new hidden folder next to `beside` (same file system, so it can be renamed into place)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{beside.name}.partial-{os.getpid()}-", dir=beside.parent))
    tmp.chmod(FOLDER_MODE)  # mkdtemp makes a private folder; what it becomes gets the usual mode
    return tmp


def _remove_quietly(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def resolved(path: str | Path) -> Path:
    """`path` made absolute with symbolic links followed; UserError on a link that points to itself."""
    try:
        return Path(path).resolve()
    except (RuntimeError, OSError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
        raise UserError(f"the path {path} is a symbolic link that points to itself ({exc})") from None


# --- reading -------------------------------------------------------------------------------------
def read_json(path: str | Path, what: str):
    """The parsed JSON of `path`; UserError naming `what` and the problem when it cannot be read."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{what} not found: {path}") from None
    except OSError as exc:
        raise UserError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not {what}: it is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not {what}: invalid JSON ({exc})") from None
    except RecursionError:
        raise UserError(f"{path} is not {what}: its JSON is nested too deeply") from None


# --- folders the program writes into --------------------------------------------------------------
def claim_folder(folder: str | Path, marker: str, what: str, create_marker: bool = True) -> Path:
    """Make sure the program may write into `folder`, creating it (and its `marker`) when needed.

    Allowed: a folder that does not exist yet, an empty one, or one holding `marker` (written when the
    program first claimed it). Anything else holds someone else's files, which must not be overwritten.
    The folder's writability is tested too, so a read-only folder is refused before any work.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder} is a file, not a folder: choose a folder for the {what}")
    if folder.is_dir() and not (folder / marker).exists():
        foreign = [e for e in _entries(folder) if not is_leftover(e)]
        if foreign:
            shown = ", ".join(sorted(foreign)[:4]) + (", ..." if len(foreign) > 4 else "")
            raise UserError(f"{folder} already holds files this program did not write ({shown}); nothing was "
                            f"written: choose a new or empty folder for the {what}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=f".write-test.{os.getpid()}-", suffix=".tmp")
        probe.close()
    except OSError as exc:
        raise UserError(f"cannot write into {folder}: {exc.strerror or exc}") from None
    if create_marker and not (folder / marker).exists():
        atomic_write_text(folder / marker, json.dumps({"written_by": "cyclegan-workbench", "what": what}) + "\n")
    return folder


def _entries(folder: Path) -> list[str]:
    try:
        return [p.name for p in folder.iterdir()]
    except OSError as exc:
        raise UserError(f"cannot read the folder {folder}: {exc.strerror or exc}") from None


# --- leftovers of killed writes -------------------------------------------------------------------
def is_leftover(name: str) -> bool:
    """Whether `name` is a temporary file or folder of one of our writes."""
    return any(p.match(name) for p in (_TMP_FILE, _TMP_DIR, _OLD_TMP_FILE, _OLD_TMP_DIR))


def _writer_alive(name: str) -> bool:
    match = _TMP_FILE.match(name) or _TMP_DIR.match(name)
    if match is None:
        return False
    pid = int(match.group(1))
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_leftovers(folder: str | Path) -> list[str]:
    """Remove the temporary files and folders in `folder` whose writing process is gone; their names."""
    folder = Path(folder)
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not is_leftover(entry.name) or _writer_alive(entry.name):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry.name)
        except OSError:
            pass  # not ours to remove after all (permissions): harmless, try again next time
    return removed
