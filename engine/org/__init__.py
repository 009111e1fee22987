"""The organisation: departments, people, groups, posts, absences, the calendar, accounts."""
