"""For supervisors and the municipality: the session log, appointment and consent overviews, statistics, the pilot export, the access-log review and the charts."""
