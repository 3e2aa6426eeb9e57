"""Curated knowledge articles (issue 3)."""
