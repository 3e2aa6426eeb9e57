"""Scheduled jobs: meetings, deadlines, reminders (issue 5)."""
