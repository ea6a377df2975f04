"""Object stores the mesh starts itself (a local S3 server for a laptop) and the identities it
gives each domain there. Ports on any S3-compatible store are read and written by the port store
(runtime/ports/delta.py); this package only runs and configures a local server."""
