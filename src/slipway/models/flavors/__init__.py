"""The built-in flavors, one module per framework; each imports its framework only when called."""

__all__: list[str] = []
