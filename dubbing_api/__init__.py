"""The Starlette service product teams integrate with. It talks to Dagster only through the
webserver's GraphQL endpoint, and relays job events from Redis to WebSocket clients."""
