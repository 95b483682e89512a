"""Admin pages: the audit log (SPEC 6)."""
