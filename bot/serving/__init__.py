"""Running Köprü: the Rasa server, the action server, the supervisor, the event consumer.

runner         `kopru run`: train if needed, start and supervise the processes
scaled         the scaled mode's endpoints (PostgreSQL, Redis, RabbitMQ) and nginx
rasa_server    the Rasa server process with Köprü's logging and speed-ups
rasa_speedups  behaviour-preserving speed-ups of Rasa's message path
action_server  the rasa-sdk action server with a shared secret
tracker_store  Rasa's SQL tracker store with retries
events         `kopru events`: Rasa's event broker into Köprü's tables

May import every room below it; never a channel or the actions package by name in code:
channels come from credentials.yml and actions by package name, as Rasa loads them.
"""
