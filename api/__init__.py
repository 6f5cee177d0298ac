"""The analysts' front door: the REST API (`newswatch api`) and the web page it serves at `/`.

An app, like the CLI and the delivery worker: it uses the model, the alerting service and the
connectors, and never imports Beam. Pure parts (tokens, rate limit, query building, place
look-up, map outlines) are separate modules so they can be tested without servers.
"""
