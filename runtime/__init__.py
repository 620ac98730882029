"""The durable runtime: runs compiled specs. Built in a later step."""

from wfc.specs.errors import WfcError

__all__ = ["WfcError"]
