"""The desktop application and the command line: the only package that imports Qt (lazily, for the window)."""
