"""Reporting: the summary table, the derivation report (Markdown, LaTeX, HTML) and plots.

Takes a problem or a ``Result``; gives text and figures.
"""
