"""The citizen's say over their data: consent (versioned texts, an append-only chain of events), the citizen's own data export, and retention (what is deleted when)."""
