-- Ingest's watchdog rewrites what its own `monitoring_interrupted` alert says as its state
-- changes (nabd.ingest.watchdog, docs/reliability.md "Monitoring that stops is an alarm"): when
-- the ward's analytics ticks again (latched, or resolved once acknowledged) the alert's facts say
-- what resumed and after how long, and when it stops again (unlatched) they say so again; the
-- sentences in every language (`messages`, 0130) and the English `message` are rewritten with
-- them, in the same statement. The restrictive policy of 0045 still limits ingest to that one
-- condition.
GRANT UPDATE (message, facts, messages) ON alert TO nabd_ingest;
