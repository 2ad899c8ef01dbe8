"""The GraphQL types: what clients see (the root types that bind them to resolvers are in
``resolvers/root.py``; ``web/graphql.py`` builds the schema)."""
