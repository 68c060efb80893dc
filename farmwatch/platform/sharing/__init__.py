"""What this platform shares with its upper platforms: rules and the exported catalog."""
