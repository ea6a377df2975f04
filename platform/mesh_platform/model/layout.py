"""Names that mark a mesh project's folders and its ports' layout (kept apart so settings can read them cheaply)."""

# The Dagster workspace file that names every code location: it marks the mesh's root folder.
WORKSPACE_FILE = "workspace.yaml"

# The folder of a product's masked projections, beside its raw majors (<domain>/<product>/masked/v<major>).
# Its name cannot be taken for a major (`v<int>`), and storage identities grant it alone to masked
# consumers (model/storage_grants.py): the layout is part of the access model, not a detail.
MASKED_FOLDER = "masked"

# The folder of a product's registry entry, beside its ports (<domain>/<product>/registry/): its
# public declaration (descriptor, contract majors), which every reader of the product is granted
# (model/storage_grants.py), masked readers included. Not a `v<int>` either.
REGISTRY_FOLDER = "registry"

# The folder of a product's usage records, beside its ports (<domain>/<product>/usage/<reader>/):
# each reader domain writes its own reads' records into its own subfolder, and may write nothing
# else there (model/storage_grants.py); the owner lists and reads them all (runtime/usage.py).
USAGE_FOLDER = "usage"
