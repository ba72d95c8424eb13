"""The one exception type for problems the user can fix (bad input, wrong parameters, bad files)."""


class UserError(Exception):
    """A clear message naming the problem; shown without a traceback by the CLI and in GUI dialogs."""
