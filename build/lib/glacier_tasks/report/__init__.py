"""What the tool says about the archive, from local state and one listing: text (the
plan and the closing report), last_run (status), figures (the report's numbers) and
html (the page). It reads; it never writes to the bucket.
"""
