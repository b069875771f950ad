"""The catalog of shareable apps: its schema, loading with positions, rules and the views the CLI shows."""
