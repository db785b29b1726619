"""Self-service: admins create, edit and pause partners in the cockpit; partners pause themselves,
plan vacations, set capacity and manage their own colleagues in the inbox. Every change goes
through the ``Partner`` model, is CSRF-checked and audited; bad input saves nothing."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from leadbridge.core.partners import PartnerRepository
from leadbridge.core.privacy.audit import AuditRow
from leadbridge.core.store.web_tables import PartnerUserRow, WebSessionRow
from tests.web.conftest import World, csrf_from


def _partner(world: World, partner_id: str):  # type: ignore[no-untyped-def]
    with world.database.transaction() as session:
        return PartnerRepository(session).get(partner_id)


def _actions(world: World) -> list[tuple[str, str]]:
    with world.database.transaction() as session:
        return [(r.actor, r.action) for r in session.scalars(select(AuditRow).order_by(AuditRow.id))]


def _edit_form(world: World, **changes: str) -> dict[str, str]:
    form = {
        "name": "Alpha Heizung GmbH",
        "tier": "gold",
        "active": "on",
        "countries": "DE, Austria",
        "postal_prefixes": "80, 81",
        "postal_ranges": "90000-90999",
        "product_lines": "heat-pumps, solar",
        "certifications": "heat-pumps:2:2027-06-30\nsolar",
        "capacity_max_open": "12",
        "capacity_per_day": "3",
        "capacity_per_week": "",
        "capacity_per_month": "40",
        "paused_until": "",
        "holidays": "2026-12-24..2026-12-26, 2027-01-01",
        "hours_start": "07:30",
        "hours_end": "17:00",
        "hours_timezone": "Europe/Vienna",
        "hours_mon": "on",
        "hours_tue": "on",
        "hours_sat": "on",
        "contacts": "sales@alpha.example, Anna Alpha",
    }
    form.update(changes)
    return form


def test_given_an_admin_edits_a_partner_then_the_domain_model_stores_every_field_and_it_is_audited(
    world: World,
) -> None:
    admin = world.admin_client()
    path = f"/cockpit/partners/{world.partner_a}/edit"
    token = csrf_from(admin, path)
    answer = admin.post(path, data={"csrf_token": token, **_edit_form(world)})
    assert answer.status_code == 303 and answer.headers["location"].endswith("done=saved")
    partner = _partner(world, world.partner_a)
    assert partner.name == "Alpha Heizung GmbH" and partner.tier.value == "gold"
    assert partner.territory.countries == ["DE", "AT"]  # the model's country rules, as on the API
    assert partner.territory.postal_prefixes == ["80", "81"]
    assert [(r.start, r.end) for r in partner.territory.postal_ranges] == [("90000", "90999")]
    assert partner.product_lines == ["heat-pumps", "solar"]
    assert [(c.name, c.level, c.expires) for c in partner.certifications] == [
        ("heat-pumps", 2, date(2027, 6, 30)),
        ("solar", 1, None),
    ]
    assert (partner.capacity.max_open, partner.capacity.per_day, partner.capacity.per_week) == (12, 3, None)
    assert partner.availability.holidays == [
        date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 26), date(2027, 1, 1),
    ]  # fmt: skip
    hours = partner.availability.business_hours
    assert hours is not None and hours.timezone == "Europe/Vienna" and hours.weekdays == [0, 1, 5]
    assert [str(c.email) for c in partner.contacts] == ["sales@alpha.example"]
    assert ("admin:admin@maker.example", "save_partner") in _actions(world)
    page = admin.get(path).text  # the form shows what was stored, ranges folded again
    assert "2026-12-24..2026-12-26, 2027-01-01" in page and "heat-pumps:2:2027-06-30" in page


def test_given_bad_fields_then_the_form_names_each_problem_keeps_the_values_and_saves_nothing(
    world: World,
) -> None:
    admin = world.admin_client()
    path = f"/cockpit/partners/{world.partner_a}/edit"
    token = csrf_from(admin, path)
    before = _partner(world, world.partner_a)
    cases = {
        "capacity_per_day": ("-3", "capacity per_day: '-3' must be a whole number"),
        "holidays": ("24.12.2026", "holidays: '24.12.2026' is not a date YYYY-MM-DD"),
        "postal_ranges": ("800-81999", "postal ranges: '800-81999' must be START-END of equal length"),
        "hours_end": ("06:00", "business hours must end after they start"),
        "hours_timezone": ("Mars/Olympus", "'Mars/Olympus' is not a known time zone"),
        "contacts": ("not-an-address", "email"),
        "name": ("  ", "name: a partner needs a name"),
        "countries": ("Atlantis", "Atlantis"),
        "tier": ("diamond", "tier"),
    }
    for field, (value, message) in cases.items():
        answer = admin.post(path, data={"csrf_token": token, **_edit_form(world, **{field: value})})
        assert answer.status_code == 400, field
        assert message in answer.text.replace("&#39;", "'"), (field, answer.text[-2000:])
        assert 'value="80, 81"' in answer.text  # what was typed is kept
    assert _partner(world, world.partner_a) == before
    assert admin.post(path, data=_edit_form(world)).status_code == 403  # no CSRF token
    assert _partner(world, world.partner_a) == before
    # another partner's external id is refused (saving would merge two partners)
    with world.database.transaction() as session:
        repository = PartnerRepository(session)
        repository.upsert(repository.get(world.partner_b).model_copy(update={"external_id": "ACC-B"}))
    answer = admin.post(path, data={"csrf_token": token, **_edit_form(world, external_id="ACC-B")})
    assert answer.status_code == 400 and "ACC-B belongs to partner" in answer.text
    assert _partner(world, world.partner_a) == before


def test_given_an_admin_creates_pauses_and_resumes_a_partner_then_routing_sees_it_paused(
    world: World,
) -> None:
    admin = world.admin_client()
    token = csrf_from(admin, "/cockpit/partners/new")
    form = _edit_form(world, name="Gamma Wärme", external_id="ACC-G")
    answer = admin.post("/cockpit/partners/new", data={"csrf_token": token, **form})
    assert answer.status_code == 303, answer.text
    partner_id = answer.headers["location"].split("/")[3]
    created = _partner(world, partner_id)
    assert created.name == "Gamma Wärme" and created.external_id == "ACC-G"
    again = admin.post("/cockpit/partners/new", data={"csrf_token": token, **form})
    assert again.status_code == 400 and "ACC-G belongs to another partner" in again.text
    paused = admin.post(
        f"/cockpit/partners/{partner_id}/pause", data={"csrf_token": token, "until": "2999-01-01"}
    )
    assert paused.status_code == 303
    from leadbridge.core.model import utcnow

    assert _partner(world, partner_id).is_paused(utcnow())
    bad = admin.post(f"/cockpit/partners/{partner_id}/pause", data={"csrf_token": token, "until": "soon"})
    assert bad.status_code == 422 and "is not a date" in bad.text
    admin.post(f"/cockpit/partners/{partner_id}/resume", data={"csrf_token": token})
    assert not _partner(world, partner_id).is_paused(utcnow())
    actions = [action for _, action in _actions(world)]
    assert actions.count("save_partner") == 1 and "pause_partner" in actions and "resume_partner" in actions
    assert admin.get("/cockpit/partners/P-nope/edit").status_code == 404


def test_given_an_admin_invites_and_removes_partner_users_then_sessions_end(
    world: World, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    admin = world.admin_client()
    path = f"/cockpit/partners/{world.partner_a}/edit"
    token = csrf_from(admin, path)
    answer = admin.post(
        f"/cockpit/partners/{world.partner_a}/users",
        data={"csrf_token": token, "email": "Carla@Alpha.example", "name": "Carla", "language": "de"},
    )
    assert answer.status_code == 303
    assert smtp_server.messages[-1]["To"] == "carla@alpha.example"
    taken = admin.post(
        f"/cockpit/partners/{world.partner_a}/users", data={"csrf_token": token, "email": "bert@beta.example"}
    )
    assert taken.status_code == 400 and "already belongs to partner" in taken.text
    partner_a_user = world.partner_client(world.user_a)  # a live session of Alpha's first user
    removed = admin.post(
        f"/cockpit/partners/{world.partner_a}/users/{world.user_a}/remove", data={"csrf_token": token}
    )
    assert removed.status_code == 303
    with world.database.transaction() as session:
        assert session.get(PartnerUserRow, world.user_a).revoked_at is not None
        assert not session.scalars(select(WebSessionRow).where(WebSessionRow.user_id == world.user_a)).all()
    assert partner_a_user.get("/inbox").status_code == 303  # signed out
    # Beta's user cannot be removed through Alpha's page
    wrong = admin.post(
        f"/cockpit/partners/{world.partner_a}/users/{world.user_b}/remove", data={"csrf_token": token}
    )
    assert wrong.status_code == 404


def test_given_a_partner_user_then_it_manages_only_its_own_colleagues(world: World, smtp_server) -> None:  # type: ignore[no-untyped-def]
    client = world.partner_client(world.user_b)
    token = csrf_from(client, "/inbox/team")
    answer = client.post("/inbox/team/users", data={"csrf_token": token, "email": "berta@beta.example"})
    assert answer.status_code == 303
    assert smtp_server.messages[-1]["To"] == "berta@beta.example"
    with world.database.transaction() as session:
        berta = session.scalars(
            select(PartnerUserRow).where(PartnerUserRow.email == "berta@beta.example")
        ).one()
        assert berta.partner_id == world.partner_b
    page = client.get("/inbox/team").text
    assert "berta@beta.example" in page and "anna@alpha.example" not in page
    # Alpha's user: not removable, not invitable into Beta, and the answer names no company
    assert (
        client.post(f"/inbox/team/users/{world.user_a}/remove", data={"csrf_token": token}).status_code == 404
    )
    stolen = client.post("/inbox/team/users", data={"csrf_token": token, "email": "anna@alpha.example"})
    assert (
        stolen.status_code == 400
        and "cannot be invited here" in stolen.text
        and world.partner_a not in stolen.text
    )
    with world.database.transaction() as session:
        anna = session.get(PartnerUserRow, world.user_a)
        assert anna.partner_id == world.partner_a and anna.revoked_at is None
    assert (
        client.post(f"/inbox/team/users/{world.user_b}/remove", data={"csrf_token": token}).status_code == 409
    )  # not oneself
    removed = client.post(f"/inbox/team/users/{berta.id}/remove", data={"csrf_token": token})
    assert removed.status_code == 303
    with world.database.transaction() as session:
        assert session.get(PartnerUserRow, berta.id).revoked_at is not None
