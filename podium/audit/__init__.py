"""Who did what, when: a run's audit trail, read from its journal.

Every action in a run is attributed: the person who submitted, forked, resumed or cancelled it
(their user name, as the CLI or `podium serve`'s tokens file gives it), the approver of each
approval, the agent behind each attempt, context write and tool call, and Podium itself for what
its scheduler and policy decided. Nothing is kept beside the journal: the trail is a pure
function of the run's events, so it is the same wherever it is read.

```python
from podium.audit import audit_run

entries = await audit_run(store, run_id)
[(e.actor, e.action, e.target) for e in entries if e.done_by("alice")]
# [("user:alice", "approval granted", "task:send")]
```
"""

from podium.audit._audit import audit, audit_run
from podium.audit._entry import (
    ACTIONS,
    SYSTEM_ACTOR,
    UNKNOWN_ACTOR,
    Action,
    AuditEntry,
    agent_actor,
    person_actor,
)

__all__ = [
    "ACTIONS",
    "SYSTEM_ACTOR",
    "UNKNOWN_ACTOR",
    "Action",
    "AuditEntry",
    "agent_actor",
    "audit",
    "audit_run",
    "person_actor",
]
