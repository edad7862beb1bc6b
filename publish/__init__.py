"""What leaves the house: small-cell suppression, partner extracts and their delivery (privacy.md §3-5)."""
