"""An organisation's linked professionals and the coordinators (socialekaart/providers.py): who gets a need card,
the monthly check and the approvals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.floor.models import User
from socialekaart.models import Organization
from socialekaart.providers import coordinators, members, organization_of, same_named

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def _user(session, uid, role, organization=None, *, channel="telegram", person=None, seen=0, chat=True, blocked=False):
    user = User(
        channel=channel,
        channel_user_id=uid,
        role=role,
        organization=organization,
        chat_id=uid if chat else None,
        person=person,
        blocked=blocked,
        created_at=NOW,
        last_seen_at=NOW + timedelta(minutes=seen),
    )
    session.add(user)
    session.flush()
    return user


def test_members_by_name_or_id_one_account_per_person_and_only_reachable_ones(database):
    with database.session() as session:
        org = Organization(id="org-1", name="Buurtteam  Oost", alternate_name="BTO")
        other = Organization(id="org-2", name="Huisartsen West")
        session.add_all([org, other])
        by_name = _user(session, "anna", "professional", "buurtteam oost")
        _user(session, "anna-m", "professional", "Buurtteam Oost", channel="matrix", person="p1", seen=1)
        linked = _user(session, "anna-t", "professional", "BTO", person="p1", seen=5)  # seen last: this one
        by_id = _user(session, "bert", "coordinator", "org-1")
        _user(session, "res", "resident", "Buurtteam Oost")  # a resident never gets cards
        _user(session, "quiet", "professional", "Buurtteam Oost", chat=False)  # no private chat yet
        _user(session, "gone", "professional", "Buurtteam Oost", blocked=True)  # blocked the bot
        _user(session, "west", "professional", "Huisartsen West")
        assert [u.channel_user_id for u in members(session, org)] == [
            by_name.channel_user_id,
            linked.channel_user_id,
            by_id.channel_user_id,
        ]
        assert [u.channel_user_id for u in members(session, other)] == ["west"]
        assert [u.channel_user_id for u in coordinators(session)] == ["bert"]
        assert organization_of(session, by_name) is org
        assert organization_of(session, session.get(User, by_id.id)) is org
        assert organization_of(session, _user(session, "x", "professional", "Onbekend")) is None


def test_a_name_two_organisations_share_belongs_to_neither_and_an_id_always_wins(database):
    with database.session() as session:
        orde = Organization(id="org-orde", name="Stichting Op Orde")
        copy = Organization(id="org-copy", name="Op Orde Budgetcoaching", alternate_name="Stichting Op Orde")
        twin_a = Organization(id="org-a", name="Buurtzorg")
        twin_b = Organization(id="org-b", name="buurtzorg ")
        session.add_all([orde, copy, twin_a, twin_b])
        by_name = _user(session, "anna", "professional", "Stichting Op Orde")  # a name before an alternate name
        twin = _user(session, "bert", "professional", "Buurtzorg")  # two organisations have this name
        by_id = _user(session, "carla", "professional", "org-b")
        assert [u.channel_user_id for u in members(session, orde)] == ["anna"]
        assert members(session, copy) == []  # a duplicate's alternate name takes nobody from their own
        assert organization_of(session, by_name) is orde
        assert organization_of(session, twin) is None and members(session, twin_a) == []
        assert organization_of(session, by_id) is twin_b
        assert same_named(session, "BUURTZORG") == ["org-a", "org-b"] and same_named(session, "org-b") == []
