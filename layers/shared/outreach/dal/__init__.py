from outreach.dal.base import SessionStore

__all__ = ["SessionStore"]
