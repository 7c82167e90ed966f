"""labkit: the lab's own toolkit (settings, clients, stack control, notebook and check helpers)."""

__version__ = "0.1.0"
