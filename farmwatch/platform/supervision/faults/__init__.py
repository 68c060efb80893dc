"""Fault tickets (regulation art. 19; issue 11 item 4): `states` (the pure state machine),
`records`, `repository`, `schedule` (when reminders and escalation fall due, pure),
`figures` (statistics, pure), `feed` (the console's notifications), `service` (what people
and the platform do with tickets), `watch` (what opens and closes them by itself) and
`reminders` (the background task)."""
