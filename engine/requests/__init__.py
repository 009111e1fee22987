"""The collaboration requests: their numbers, summaries, records, files and views."""
