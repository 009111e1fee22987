"""The managers' dashboard: figures derived from the audit log."""
