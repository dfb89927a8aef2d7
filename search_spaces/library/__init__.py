"""The search spaces shipped with snn-evolve, one YAML file each (data, not code)."""
