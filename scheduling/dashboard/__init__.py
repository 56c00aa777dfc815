"""The operations dashboard (issue #7): what needs a human now, each item with the action that fixes it, and the
numbers that tell how scheduling goes.

- `selectors.py` reads everything in a constant number of queries (lists are capped, totals and percentiles
  are aggregated by the database), so the page costs the same with a week or with years of history.
- `words.py` turns the solver's diagnostics into a recruiter's sentences with names and links to each fix.
- `charts.py` draws the charts as server-rendered SVG: no script, nothing fetched from elsewhere.
- `services.py` holds the one write of its own (retrying an outbox item); the other buttons call the existing
  services (`link_extend`, `link_regenerate`, `request_start`, `request_solve`, `consent_link_send`).
- `views.py`: staff only; GET shows, POST acts and comes back with a message.
"""
