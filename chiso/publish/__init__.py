"""Publication: a validated month copied from the audit area into `marts` as a revision."""
