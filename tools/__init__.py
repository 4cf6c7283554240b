"""Developer tools: the offline runner and plan for the Pulumi program."""
