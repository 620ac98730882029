"""A task module for ``wfc server --tasks`` in the tests."""

from wfc.runtime import task


@task("noop")
def noop() -> None:
    """Does nothing."""
