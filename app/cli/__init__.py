"""Headless subcommands of `cyclegan-workbench`; each module registers its own subparsers."""
from __future__ import annotations

import argparse

# One module per family of jobs; each exposes register(subparsers).
_COMMAND_MODULES = [
    "cyclegan_workbench.app.cli.dataset_commands",
    "cyclegan_workbench.app.cli.training_commands",
    "cyclegan_workbench.app.cli.inspect_commands",
    "cyclegan_workbench.app.cli.reproduce_commands",
]


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="cyclegan-workbench",
        description="Look inside CycleGAN generators trained on toy shapes. "
        "With no subcommand, opens the desktop workbench.",
    )
    sub = parser.add_subparsers(title="subcommands", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser
