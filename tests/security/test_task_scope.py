"""Finding 3 (Low 7): any operator could list and close any queue's unassigned tasks, with no
audit. Now an operator sees and closes their own tasks and those of the queues they serve (by
skill), a supervisor also their team's, an admin all; every close is audited."""

from __future__ import annotations

from sqlalchemy import update

from crm_core.models import QueueDefinition, Skill, Task, User, UserSkill
from tests.security.support import audit_rows


async def seed_tasks(env) -> dict[str, int]:
    """op1 serves `collections`; op2 (in sup's team) serves `legal`; one task each, and one
    of op2's own."""
    now = env.clock.now()
    async with env.db.session() as s:
        collections, legal = Skill(name="collections"), Skill(name="legal")
        s.add_all([collections, legal])
        await s.flush()
        s.add_all(
            [
                QueueDefinition(
                    name="q-collections",
                    required_skills=[{"skill": "collections", "min_level": 1}],
                    overflow=[],
                ),
                QueueDefinition(
                    name="q-legal",
                    required_skills=[{"skill": "legal", "min_level": 50}],
                    overflow=[],
                ),
                UserSkill(user_id=env.users["op1"], skill_id=collections.id, level=10),
                UserSkill(user_id=env.users["op2"], skill_id=legal.id, level=60),
            ]
        )
        await s.execute(
            update(User).where(User.id == env.users["op2"]).values(team_id=env.users["sup"])
        )
        tasks = {
            "collections": Task(owner_queue="q-collections", due_at=now, created_at=now),
            "legal": Task(owner_queue="q-legal", due_at=now, created_at=now),
            "op2": Task(owner_agent_id=env.users["op2"], due_at=now, created_at=now),
        }
        s.add_all(tasks.values())
        await s.commit()
        return {name: task.id for name, task in tasks.items()}


async def done(client, csrf: str, task_id: int) -> int:
    response = await client.post(
        f"/api/tasks/{task_id}/done", json={}, headers={"X-CSRF-Token": csrf}
    )
    return response.status


async def listed(client, queue: str) -> tuple[int, set[int]]:
    response = await client.get("/api/tasks", params={"queue": queue})
    if response.status != 200:
        return response.status, set()
    return 200, {item["id"] for item in (await response.json())["items"]}


async def test_an_operator_lists_and_closes_only_their_queues_tasks(client, env, sign_in) -> None:
    ids = await seed_tasks(env)
    env.clock.advance(60)
    csrf = await sign_in(client, "op1")
    assert await listed(client, "q-legal") == (403, set())  # not a queue op1 serves
    assert await listed(client, "q-collections") == (200, {ids["collections"]})
    assert await done(client, csrf, ids["legal"]) == 403
    assert await done(client, csrf, ids["op2"]) == 403
    assert await done(client, csrf, ids["collections"]) == 200
    closes = await audit_rows(env, "complete")
    assert [(r.user_id, r.object_type, r.object_id) for r in closes] == [
        (env.users["op1"], "task", str(ids["collections"]))
    ]
    assert closes[0].detail["owner_queue"] == "q-collections"


async def test_a_supervisor_closes_their_teams_tasks_and_an_admin_any(client, env, sign_in) -> None:
    ids = await seed_tasks(env)
    csrf = await sign_in(client, "sup")
    assert (await listed(client, "q-legal"))[0] == 200  # op2, in sup's team, serves it
    assert await done(client, csrf, ids["collections"]) == 403  # nobody of the team serves it
    assert await done(client, csrf, ids["op2"]) == 200
    assert await done(client, csrf, ids["legal"]) == 200
    assert len(await audit_rows(env, "complete")) == 2


async def test_an_admin_closes_any_task(client, env, sign_in) -> None:
    ids = await seed_tasks(env)
    csrf = await sign_in(client, "admin")
    assert await done(client, csrf, ids["collections"]) == 200
    assert [r.user_id for r in await audit_rows(env, "complete")] == [env.users["admin"]]
