"""Column declarations of every table, by Intercom resource: names, Arrow types and descriptions.

Shapes follow what Intercom's real API sends (see ../shared/reference/real-payloads), and its 2.16 description
where the two agree. tables.py pairs each with a source, a key and a partition rule.
"""
