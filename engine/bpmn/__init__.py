"""Everything that touches SpiffWorkflow: parsing, validation, the runtime classes, serialization."""
