"""Tables, connections and the unit of work."""
