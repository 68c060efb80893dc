"""Recorded video (issue 8): record search, playback sessions, downloads, platform recording,
retention and evidence clips, as services the web API and the cascade share."""
