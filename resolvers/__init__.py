"""Thin resolvers: authorise, call the domain, shape the result."""
