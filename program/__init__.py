"""What the Pulumi program needs besides its components: typed stack settings, the reader of the
generated tree, and the Kubernetes building blocks the components share.

Nothing here is a ComponentResource (those live in ``components/``, one per module) and nothing
builds resources at import time.
"""
