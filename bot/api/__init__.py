"""The Open Referral (HSDS 3.0) read API of the social map: ``wijkbot serve`` (docs/api.md).

``app`` is the FastAPI application, ``queries`` what it reads from the database, ``tokens`` the hashed
tokens that show professionals' contact persons. ``tokens`` imports no web framework, so that
``wijkbot api token`` starts without FastAPI.
"""
