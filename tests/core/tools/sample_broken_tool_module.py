"""A module that fails while it is imported, like a user's module with a bug."""

raise RuntimeError("broken on purpose")
