"""A minimal Pulumi program for tests/pulumi/test_pulumi_mocks.py: a component with two children,
one secret input, one object left for Pulumi to name, and one stack output."""

import pulumi
import pulumi_kubernetes as k8s


class Box(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("test:index:Box", name, None, None)
        k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="fixed"),
            string_data={"key": pulumi.Output.secret("canary-value")},
            opts=pulumi.ResourceOptions(parent=self),
        )
        config = k8s.core.v1.ConfigMap(f"{name}-config", data={"a": "b"}, opts=pulumi.ResourceOptions(parent=self))
        self.config_name = config.metadata.apply(lambda meta: meta.name)
        self.register_outputs({})


box = Box("box")
pulumi.export("configName", box.config_name)
pulumi.export("secretOutput", pulumi.Output.secret("s"))
