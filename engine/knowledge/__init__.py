"""The knowledge base: lessons of closed requests, the guide, recognitions."""
