"""Entry point of `cyclegan-workbench`: a headless subcommand when one is given, else the window."""
from __future__ import annotations

import sys

from app.cli import build_parser
from models.errors import UserError


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        from app import system_libraries

        # Qt aborts the process with a cryptic message when its X11 plugin cannot load: say what to install.
        if system_libraries.uses_xcb() and (missing := system_libraries.missing_libraries()):
            print(f"error: {system_libraries.missing_message(missing)}", file=sys.stderr)
            return 2
        # Imported here so headless subcommands never load Qt.
        from app.main_window import launch

        return launch()
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
