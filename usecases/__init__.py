"""FarmTrust's application layer: each use case written once, called by the API, the CLI, the workers and the demo.

The rule: a use case is one function that opens no connection of its own. It takes a connection,
reads through ``store/``, computes with the domain packages (``edge``, ``vision``, ``remote_sensing``,
``credit``), writes through ``store/``, and returns a value. It never commits: the caller owns the
transaction. This package imports ``store`` and the domain packages, never ``api`` or ``farmtrust``.
"""
