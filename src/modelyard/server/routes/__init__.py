"""REST API routes, one module per resource: parse, call one service, format."""
