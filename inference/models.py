"""Model registry, inference and training runs live here (see DESIGN.md, data model)."""
