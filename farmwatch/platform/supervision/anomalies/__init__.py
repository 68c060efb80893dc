"""Anomalies (异常), their evidence, rectification (整改) and cases (立案): regulation art.
20–21, issue 11 item 3. `states` is the pure state machine, `repository` the tables,
`evidence` takes the clip around the moment, `service` puts them together for the API and
tells outside systems through the supervision webhook (shared with the fault tickets)."""
