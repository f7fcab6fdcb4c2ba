"""Helpers shared by the pinpipe DAGs (the launcher factory)."""
