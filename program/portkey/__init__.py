"""Portkey's control plane as Pulumi dynamic resources, on the official ``portkey-ai`` SDK.

One module per resource kind, mirroring Portkey's Terraform provider (``portkey-ai/portkey``) so a
later move to it through Pulumi's Terraform bridge is a rename:

=============================  =========================================  ==========================
module                         resource (``pulumi-python:dynamic/portkey``) Terraform
=============================  =========================================  ==========================
``integration``                ``PortkeyIntegration`` (``Integration``)    ``portkey_integration``
``workspace_access``           ``PortkeyIntegrationWorkspaceAccess``       ``portkey_integration_workspace_access``
``provider``                   ``PortkeyProvider`` (``Provider``)          ``portkey_provider``
``config``                     ``PortkeyConfig`` (``Config``)              ``portkey_config``
``usage_limits_policy``        ``PortkeyUsageLimitsPolicy``                ``portkey_usage_limits_policy``
=============================  =========================================  ==========================

``api`` wraps the SDK (one-line errors, creates that never duplicate); ``base`` holds what every
provider shares (configure, diff, read with drift, pickling). Nothing here registers a resource or
reads config at import: the dynamic-provider host imports these modules to run the CRUD calls.
"""
