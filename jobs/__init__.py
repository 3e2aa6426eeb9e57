"""Scheduled jobs: the agenda (meeting series, deadlines); reminders and the scheduler follow (issue 5)."""
