"""Entry point of `cyclegan-workbench`: a headless subcommand when one is given, else the window."""
from __future__ import annotations

import os
import sys

from cyclegan_workbench.app.cli import build_parser
from cyclegan_workbench.data.errors import UserError


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        from cyclegan_workbench.app import system_libraries

        # Qt aborts the process with a cryptic message when its X11 plugin cannot load: say what to install.
        if system_libraries.uses_xcb() and (missing := system_libraries.missing_libraries()):
            print(f"Error: {system_libraries.missing_message(missing)}", file=sys.stderr)
            return 2
        # Imported here so headless subcommands never load Qt.
        from cyclegan_workbench.app.main_window import launch

        return launch()
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except UserError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        # Known bad input is reported where it is read, with a message naming it; reaching this is a bug.
        detail = str(exc).splitlines()[0] if str(exc) else ""
        print(f"Error: unexpected {type(exc).__name__}{': ' + detail if detail else ''} (a bug: please report "
              "it with the command; CYCLEGAN_WORKBENCH_DEBUG=1 shows the traceback)", file=sys.stderr)
        if os.environ.get("CYCLEGAN_WORKBENCH_DEBUG"):
            raise
        return 1


if __name__ == "__main__":
    sys.exit(main())
