"""Media worker processes: one `LocalMediaNode` each, driven over a control channel."""
