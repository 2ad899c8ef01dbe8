"""The application layer: the services container, settings, database, credentials, rate limits,
outages, pub/sub and the queue; used by the edges (web/, realtime/, tasks/), using models/."""
