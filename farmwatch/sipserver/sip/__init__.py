"""The pure RFC 3261 core: messages, parsing, transactions, digest, SDP. No I/O."""
