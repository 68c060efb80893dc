"""SIP fronts: processes sharing the platform's SIP port (`[sip] fronts`)."""
