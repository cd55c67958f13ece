"""Admin for the model registry; registered as its models land."""
