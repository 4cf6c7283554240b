"""The validators, one module per area. A package of its own: the engine runs the pack with its
directory first on the import path, where modules named like ``secrets`` or ``redis`` would shadow
the standard library and installed packages."""
