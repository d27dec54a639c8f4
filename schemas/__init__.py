"""Public event contracts: pydantic v2 models and their JSON Schema files."""
