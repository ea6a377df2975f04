"""File names that mark a mesh project's folders (kept apart so settings can read them cheaply)."""

# The Dagster workspace file that names every code location: it marks the mesh's root folder.
WORKSPACE_FILE = "workspace.yaml"
