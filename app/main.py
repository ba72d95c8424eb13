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
