"""Engine services: the verbs that change state, each one unit of work."""
