"""routing: the ACD (automatic call distribution).

- `routing.acd.Acd`: the decision core (plain, synchronous, injected clock): agent states, waiting
  calls, skills-based selection, overflow, sticky agents, service-level statistics.
- `routing.service.AcdService`: the core at its I/O edge (bus, Switch, database).
- `routing.events`: the domain events it publishes; `routing.queues.QueueConfig`: queues.
"""
