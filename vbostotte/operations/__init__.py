"""Running the service: logging, metrics, backups, files only their owner may read."""
