"""Partner imports are partial updates: what the file does not say is kept, unchanged rows are counted."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from leadbridge.core.partners import PartnerRepository
from leadbridge.core.store.database import Database
from leadbridge.sync.importing import import_partners

HEADER = "external_id,name,countries,product_lines,tier,max_open,contact_email\n"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _partner(database: Database, external_id: str):  # type: ignore[no-untyped-def]
    with database.transaction() as session:
        return next(p for p in PartnerRepository(session).all() if p.external_id == external_id)


def test_given_values_set_through_the_api_when_the_csv_is_imported_again_then_they_are_kept(
    database: Database, tmp_path: Path
) -> None:
    full = _write(tmp_path / "p.csv", HEADER + "PA-1,Alpha,DE,heat_pumps,gold,10,a@alpha.example\n")
    assert import_partners(database, full).imported == {"created": 1, "updated": 0, "unchanged": 0}
    stored = _partner(database, "PA-1")
    api_edit = stored.model_copy(
        update={
            "owned_accounts": ["ACC-9"],
            "tags": ["installer"],
            "availability": stored.availability.model_copy(update={"holidays": [date(2026, 12, 24)]}),
        }
    )
    with database.transaction() as session:
        PartnerRepository(session).upsert(api_edit)

    assert import_partners(database, full).imported == {"created": 0, "updated": 0, "unchanged": 1}
    kept = _partner(database, "PA-1")
    assert kept.owned_accounts == ["ACC-9"] and kept.tags == ["installer"]
    assert kept.availability.holidays == [date(2026, 12, 24)] and kept.id == stored.id

    narrow = _write(tmp_path / "n.csv", "external_id,name,tier,max_open\nPA-1,Alpha,silver,\n")
    assert import_partners(database, narrow).imported == {"created": 0, "updated": 1, "unchanged": 0}
    after = _partner(database, "PA-1")
    assert after.tier.value == "silver" and after.capacity.max_open == 10  # empty cell: kept
    assert after.territory.countries == ["DE"] and after.product_lines == ["heat_pumps"]  # absent: kept
    assert after.contacts and after.owned_accounts == ["ACC-9"]

    cleared = import_partners(database, narrow, clear_empty=True)
    assert cleared.imported == {"created": 0, "updated": 1, "unchanged": 0}
    assert (
        _partner(database, "PA-1").capacity.max_open is None
        and _partner(database, "PA-1").tier.value == "silver"
    )
