"""`vagpt report`: a static HTML report of one night's results, readable without a server.

    from va_gpt.report.build import write_report
    index_url = write_report("s3://bucket/results", "2026-11-21", "report/", storage_options=so)

night.py     the night's rows from the result views (read-only DuckDB, va_gpt.lake.query)
media.py     keyframe + contact-sheet JPEGs per interval under {results}/media/, cut when missing
timeline.py  the score-over-the-night strip as inline SVG (no JS, no external resources)
pages.py     the index page and one page per camera (plain HTML + inline CSS)
build.py     write_report: all of the above into {out}/{date}/ (a folder or any fsspec URL)
"""
