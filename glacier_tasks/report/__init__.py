"""What the tool says about the archive, from local state and one listing: text (the
plan and the closing report), last_run and tally (status), figures (the report's
numbers) and html (the page, drawn from blocks and its sections page_bags, page_money,
page_run). It reads; it never writes to the bucket.
"""
