"""Random spot checks (regulation art. 4): an inspector at the national tier or a bureau
draws cameras across everything the cascade shares with them, watches each live or plays it
back, and records the result on the key area's checklist."""
