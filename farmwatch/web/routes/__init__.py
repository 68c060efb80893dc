"""One RouteTableDef per feature."""
