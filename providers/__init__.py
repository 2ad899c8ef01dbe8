"""The providers: their catalogue, lifecycles, settings, one adapter per family and the simulator
that stands in for their APIs in development and tests (docs/providers.md)."""
