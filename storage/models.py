"""SQLAlchemy models: territory, residents, memberships, roles, invites, conversations, updates, outbox, cases,
polls and their ballot box, proposals, media, meetings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        # Stored in UTC whatever zone it came in (SQLite compares the stored text).
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    """Base of all models."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class District(Base):
    """A city district (MCD)."""

    __tablename__ = "district"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))


class Barrio(Base):
    """A neighbourhood of a district."""

    __tablename__ = "barrio"
    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"))
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    # How residents reach the barrio's community managers outside the bot (an office, a phone, an email).
    contact: Mapped[str | None] = mapped_column(String(300))


class Circle(Base):
    """A community stewardship circle around a street, square or park."""

    __tablename__ = "circle"
    id: Mapped[int] = mapped_column(primary_key=True)
    barrio_id: Mapped[int] = mapped_column(ForeignKey("barrio.id"), index=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(16))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)


class Building(Base):
    """A resident building (or portal) within a circle."""

    __tablename__ = "building"
    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circle.id"), index=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    address: Mapped[str] = mapped_column(String(200))


class Resident(Base):
    """A person who consented to use Vecinos. Personal data lives here and in what points to it."""

    __tablename__ = "resident"
    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    first_name: Mapped[str] = mapped_column(String(128))
    locale: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="active")
    consent_at: Mapped[datetime]
    created_at: Mapped[datetime]
    unreachable_at: Mapped[datetime | None]
    # "consent" for residents; "public_task" for staff granted a role before they wrote to the bot.
    legal_basis: Mapped[str] = mapped_column(String(16), default="consent")
    # Notices: quiet hours as minutes after local midnight (None: the default 22:00-08:00; start == end: none),
    # and the kinds of notices muted, comma-separated.
    quiet_start: Mapped[int | None]
    quiet_end: Mapped[int | None]
    muted_kinds: Mapped[str | None] = mapped_column(String(64))
    # Normal notices and broadcasts wait for a Monday digest of the circle instead of arriving one by one.
    weekly_digest: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Membership(Base):
    """A resident's membership of a circle; kept anonymised (resident_id NULL) after erasure."""

    __tablename__ = "membership"
    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"))
    circle_id: Mapped[int] = mapped_column(ForeignKey("circle.id"), index=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"))
    portal: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16))
    verified_via: Mapped[str | None] = mapped_column(String(16))
    invite_id: Mapped[int | None] = mapped_column(ForeignKey("invite.id", ondelete="SET NULL"))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    remind_at: Mapped[datetime | None] = mapped_column(index=True)
    reminders_sent: Mapped[int] = mapped_column(default=0)

    __table_args__ = (Index("ix_membership_resident_status", "resident_id", "status"),)


class RoleGrant(Base):
    """A role held by a resident over a circle, a barrio or the district. A grant to someone who has not
    written to the bot yet names their Telegram user id and gets its resident on their first message."""

    __tablename__ = "role_grant"
    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    role: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[int | None]
    sector: Mapped[str | None] = mapped_column(String(32))
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("resident_id", "role", "scope", "scope_id", "sector", name="uq_role_grant"),
        Index("ix_role_grant_scope", "role", "scope", "scope_id"),
    )


class Invite(Base):
    """An invite code for a circle (or one building of it): single or multi-use, expiring."""

    __tablename__ = "invite"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circle.id"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"))
    uses_left: Mapped[int | None]
    max_uses: Mapped[int | None]
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Conversation(Base):
    """Where a chat is in a conversation: flow, step and a small JSON of answers so far."""

    __tablename__ = "conversation"
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    flow: Mapped[str] = mapped_column(String(32), default="")
    step: Mapped[str] = mapped_column(String(32), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime]


class ProcessedUpdate(Base):
    """An update already applied, with the replies it produced until they are delivered."""

    __tablename__ = "processed_update"
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    handled_at: Mapped[datetime] = mapped_column(index=True)
    replies: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    # "applied", or "failed" for a poison update skipped after failing the same way several times.
    outcome: Mapped[str] = mapped_column(String(16), default="applied")
    # Until when the process that applied it is expected to be showing its replies: a redelivery before then
    # (the same update given to two processes) waits for that delivery instead of sending the replies again.
    deliver_by: Mapped[datetime | None]


class OutboxMessage(Base):
    """A message to someone other than the current chat, sent by the outbox sender."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"))
    # Whom the message is about (e.g. the applicant in an approval request): erased with them.
    about_resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    send_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    # Lower goes first: answers and personal notifications (0) before bulk fan-out.
    priority: Mapped[int] = mapped_column(default=0)
    # The sender holding a 'sending' row, and until when; an expired lease is reclaimed by a live sender.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    # Telegram's id of the message once sent, so a later edit can update it (e.g. "approved by Ana").
    sent_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # What the message is about, e.g. "membership:15", to find its copies when that thing changes.
    ref: Mapped[str | None] = mapped_column(String(48), index=True)

    __table_args__ = (
        Index("ix_outbox_due", "status", "send_at"),
        Index("ix_outbox_queue", "status", "priority", "id"),
        Index("ix_outbox_chat_order", "chat_id", "status", "priority", "id"),
    )


class ReportCategory(Base):
    """A kind of problem residents report (seeded from the territory file); `name` is its English name."""

    __tablename__ = "report_category"
    code: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(default=0)
    # Whether its cases' descriptions and places are published through Open311 (not for a vulnerable person or
    # a conflict between neighbours: those would expose people).
    public: Mapped[bool] = mapped_column(Boolean, default=True)


class ReportRoute(Base):
    """Who handles a category (a sector, or the community managers when none) and how fast; district-wide when
    `barrio_id` is NULL, else that barrio's override."""

    __tablename__ = "report_route"
    id: Mapped[int] = mapped_column(primary_key=True)
    barrio_id: Mapped[int | None] = mapped_column(ForeignKey("barrio.id"))
    category: Mapped[str] = mapped_column(ForeignKey("report_category.code"))
    sector: Mapped[str | None] = mapped_column(String(32))
    acknowledge_minutes: Mapped[int]
    resolve_minutes: Mapped[int]

    __table_args__ = (UniqueConstraint("barrio_id", "category", name="uq_report_route"),)


class CaseCounter(Base):
    """The next case number of a barrio (references read EMB-0042)."""

    __tablename__ = "case_counter"
    barrio_id: Mapped[int] = mapped_column(ForeignKey("barrio.id"), primary_key=True, autoincrement=False)
    next_number: Mapped[int] = mapped_column(default=1)


class Case(Base):
    """A reported problem, from a resident in chat or a city system through Open311."""

    __tablename__ = "report_case"
    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(16), unique=True)
    barrio_id: Mapped[int] = mapped_column(ForeignKey("barrio.id"), index=True)
    circle_id: Mapped[int | None] = mapped_column(ForeignKey("circle.id"))
    category: Mapped[str] = mapped_column(ForeignKey("report_category.code"))
    sector: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"), index=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(16), default="chat")
    text: Mapped[str] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The deadlines run from `clock_from` (opened, referred or reopened); each reminder and escalation once.
    clock_from: Mapped[datetime]
    acknowledge_by: Mapped[datetime | None]
    resolve_by: Mapped[datetime | None]
    ack_reminded: Mapped[bool] = mapped_column(Boolean, default=False)
    ack_escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    resolve_reminded: Mapped[bool] = mapped_column(Boolean, default=False)
    resolve_escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the scheduler must look at the case next (deadline work), and when to ask "is it fixed?".
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    follow_up_at: Mapped[datetime | None] = mapped_column(index=True)
    resolved_at: Mapped[datetime | None]
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("report_case.id", ondelete="SET NULL"))
    supporters: Mapped[int] = mapped_column(default=0)


class CaseEvent(Base):
    """One step in a case's life (who, when, what), with the public note residents are told."""

    __tablename__ = "case_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("report_case.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))  # created | transition | question | answer | follower
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    sector: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)


class CasePhoto(Base):
    """A photo of a case (Telegram's file id; the bytes stay with Telegram)."""

    __tablename__ = "case_photo"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("report_case.id", ondelete="CASCADE"), index=True)
    file_id: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(default=0)


class CaseFollower(Base):
    """A resident who said "me too" (or whose own case was merged into this one): told of every step."""

    __tablename__ = "case_follower"
    case_id: Mapped[int] = mapped_column(ForeignKey("report_case.id", ondelete="CASCADE"), primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), primary_key=True)
    since: Mapped[datetime]


class Poll(Base):
    """A question put to a frozen electorate (a circle's, a barrio's, the district's or a body's members).

    The electorate is copied into `poll_elector` when the poll opens; who voted is `poll_participation`; how
    they voted is `poll_ballot`, which nothing links back to a person."""

    __tablename__ = "poll"
    id: Mapped[int] = mapped_column(primary_key=True)
    # circle | barrio | district (and body, once councils exist): kept open as a string with an id.
    scope_kind: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[int | None]
    kind: Mapped[str] = mapped_column(String(16))  # yesno | single | approval | ranked
    question: Mapped[str] = mapped_column(Text)
    max_choices: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16), index=True)  # scheduled | open | counted | closed
    created_by: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime]
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    # When to remind the electors who have not voted yet (None: no reminder); `reminded` once it went out.
    remind_at: Mapped[datetime | None]
    reminded: Mapped[bool] = mapped_column(Boolean, default=False)
    # The next moment the scheduler must look at the poll (opening, reminder or closing).
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    quorum_percent: Mapped[int] = mapped_column(default=0)
    threshold_percent: Mapped[int] = mapped_column(default=50)
    results_visible: Mapped[bool] = mapped_column(Boolean, default=False)
    vote_change: Mapped[bool] = mapped_column(Boolean, default=False)
    eligible_count: Mapped[int] = mapped_column(default=0)
    # The order that breaks ties "by lot", fixed and shown before voting opens (option ids).
    lot_order: Mapped[list[int]] = mapped_column(JSON, default=list)
    # The count (tally report with quorum and threshold) at close, and the SHA-256 of the published ballots
    # (rebuilt from `poll_ballot` on demand: they never change once the poll is closed).
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    published_sha256: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None]
    # Seats to fill (ranked polls of elections fill several) and the counting method when it is not the
    # kind's own (elections count by Scottish STV: "stv").
    seats: Mapped[int] = mapped_column(default=1, server_default="1")
    count_method: Mapped[str | None] = mapped_column(String(16))
    # An election's vote: the office it fills (delegate | forum | governance); the question is then the place's
    # name, and every reader sees the title in their own language.
    office: Mapped[str | None] = mapped_column(String(16))


class PollOption(Base):
    """One answer of a poll, as its author wrote it (yes/no polls carry codes and are labelled per language)."""

    __tablename__ = "poll_option"
    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("poll.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    text: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(16))


class PollElector(Base):
    """Someone entitled to vote in a poll: the electorate, frozen when the poll opens."""

    __tablename__ = "poll_elector"
    poll_id: Mapped[int] = mapped_column(ForeignKey("poll.id", ondelete="CASCADE"), primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), primary_key=True)

    __table_args__ = (Index("ix_poll_elector_resident", "resident_id"),)


class PollParticipation(Base):
    """That someone voted in a poll (never how): one row per voter, unique. Kept, without the person, if they
    erase their data, so that ballots still equal participations."""

    __tablename__ = "poll_participation"
    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("poll.id", ondelete="CASCADE"))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"), index=True)

    __table_args__ = (UniqueConstraint("poll_id", "resident_id", name="uq_poll_participation"),)


class PollBallot(Base):
    """How one (unknown) voter voted: a random key, the choice and the hash of the voter's receipt. No voter,
    no time, no sequence: SQLite stores it without a rowid, so rows sit in random key order."""

    __tablename__ = "poll_ballot"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("poll.id", ondelete="CASCADE"), index=True)
    # Option ids: the one chosen, the approved ones (sorted) or the ranking (in order); empty to abstain.
    choice: Mapped[list[int]] = mapped_column(JSON)
    tracker_hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = ({"sqlite_with_rowid": False},)


class Proposal(Base):
    """A resident's proposal to their circle or barrio; enough support within the window makes it a poll."""

    __tablename__ = "proposal"
    id: Mapped[int] = mapped_column(primary_key=True)
    scope_kind: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[int | None]
    author_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)  # open | accepted | expired | withdrawn
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    threshold: Mapped[int]
    supporters: Mapped[int] = mapped_column(default=0)
    poll_id: Mapped[int | None] = mapped_column(ForeignKey("poll.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]


class ProposalSupport(Base):
    """One resident's support of a proposal (one tap, once)."""

    __tablename__ = "proposal_support"
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposal.id", ondelete="CASCADE"), primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), primary_key=True)
    since: Mapped[datetime]


class Election(Base):
    """An election of a circle's delegates, or of a council's representatives to the District Forum or its
    barrio's Governance Commission: nominations, then a ranked poll (the ballot box of polls) counted by STV."""

    __tablename__ = "election"
    id: Mapped[int] = mapped_column(primary_key=True)
    # circle (electorate: its verified members) | council (electorate: the barrio's council members)
    scope_kind: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[int] = mapped_column(index=True)
    office: Mapped[str] = mapped_column(String(24))  # delegate | forum | governance
    seats: Mapped[int]
    # nominating | voting | elected (counted, grants made) | void (nobody stood)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    nominations_close_at: Mapped[datetime]
    voting_closes_at: Mapped[datetime]
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    poll_id: Mapped[int | None] = mapped_column(ForeignKey("poll.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    term_ends_at: Mapped[datetime | None]
    # The published order for ties "by lot" (candidacy ids), fixed when the candidate list is published.
    lot_order: Mapped[list[int]] = mapped_column(JSON, default=list)


class Candidacy(Base):
    """Someone standing in an election: self-nominated, or nominated by another and accepted; their place in
    the result (1..seats elected, then the substitutes in order)."""

    __tablename__ = "candidacy"
    id: Mapped[int] = mapped_column(primary_key=True)
    election_id: Mapped[int] = mapped_column(ForeignKey("election.id", ondelete="CASCADE"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    statement: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))  # proposed | standing | withdrawn | declined
    nominated_by: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    # elected | substitute | replaced (a substitute who took a seat) | left | null before the count
    outcome: Mapped[str | None] = mapped_column(String(16))
    place: Mapped[int | None]

    __table_args__ = (UniqueConstraint("election_id", "resident_id", name="uq_candidacy_person"),)


class BodySeat(Base):
    """A seat in a body above the councils: the District Citizen Forum, or a barrio's Community Governance
    Commission (institutional members granted by an admin, plus one council representative elected)."""

    __tablename__ = "body_seat"
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(16))  # forum | governance
    barrio_id: Mapped[int] = mapped_column(ForeignKey("barrio.id", ondelete="CASCADE"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16))  # elected | institution
    label: Mapped[str] = mapped_column(String(120), default="")  # the institution, for granted seats
    election_id: Mapped[int | None] = mapped_column(ForeignKey("election.id", ondelete="SET NULL"))
    since: Mapped[datetime]


class Media(Base):
    """A file the outbox sends to many (a poll's result chart): uploaded once, then re-sent by Telegram's id."""

    __tablename__ = "media"
    key: Mapped[str] = mapped_column(String(48), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    filename: Mapped[str] = mapped_column(String(80))
    file_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]


class Notice(Base):
    """A notice from community managers (or the district office), or a delegate's broadcast to their circle: one
    row with the author's text per language; each recipient's message is rendered when it is sent."""

    __tablename__ = "notice"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # official | delegate
    scope_kind: Mapped[str] = mapped_column(String(16))  # district | barrio | circle | role
    scope_id: Mapped[int | None]
    role: Mapped[str | None] = mapped_column(String(32))
    texts: Mapped[dict[str, Any]] = mapped_column(JSON)
    original_locale: Mapped[str] = mapped_column(String(8))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    media_kind: Mapped[str | None] = mapped_column(String(12))  # photo | document
    media_file_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))  # scheduled | sending | done
    send_at: Mapped[datetime]
    created_at: Mapped[datetime]
    queued_at: Mapped[datetime | None]
    recipients: Mapped[int] = mapped_column(default=0)
    # Reports sent to the author: 0 none, 1 once what could go out went out (some wait for quiet hours), 2 final.
    reported: Mapped[int] = mapped_column(default=0)

    __table_args__ = (Index("ix_notice_due", "status", "send_at"),)


class NoticeDelivery(Base):
    """One recipient of a notice: whom, and what became of it (no text: that is rendered at send time)."""

    __tablename__ = "notice_delivery"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id", ondelete="CASCADE"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    # The recipient's language when queued, and the one they got it in once sent (per-language reports).
    locale: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12))  # pending | sending | sent | failed | unreachable | muted
    send_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_notice_delivery_due", "status", "send_at", "id"),
        Index("ix_notice_delivery_progress", "notice_id", "status"),
    )


class CoexistenceCase(Base):
    """A mediation, a support case or a community court case: confidential, consent-based. Party B is stored
    only once they accept; until then the invitation is a token hash (and, sent through the bot, outbox rows
    for it and its one reminder, deleted if B declines or never answers).
    Content (messages, sessions, agreement) is deleted a retention period after closing."""

    __tablename__ = "coexistence_case"
    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # mediation | support | court
    barrio_id: Mapped[int] = mapped_column(ForeignKey("barrio.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("report_case.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    outcome: Mapped[str | None] = mapped_column(String(16))
    opened_by: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"))
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"), index=True)
    party_a_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"), index=True)
    party_b_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"), index=True)
    # Whether A agreed that B may be told it was them who asked; for support, whether they asked anonymously.
    a_named: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    a_consent_at: Mapped[datetime | None]
    b_consent_at: Mapped[datetime | None]
    invite_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    invite_via: Mapped[str | None] = mapped_column(String(8))  # bot | paper
    invited_at: Mapped[datetime | None]
    invite_lapse_at: Mapped[datetime | None] = mapped_column(index=True)
    agreement_a: Mapped[str | None] = mapped_column(Text)
    agreement_b: Mapped[str | None] = mapped_column(Text)
    a_accepted_at: Mapped[datetime | None]
    b_accepted_at: Mapped[datetime | None]
    check_at: Mapped[datetime | None] = mapped_column(index=True)
    a_holding: Mapped[bool | None] = mapped_column(Boolean)
    b_holding: Mapped[bool | None] = mapped_column(Boolean)
    opened_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None] = mapped_column(index=True)


class CoexistenceMessage(Base):
    """One message of a confidential thread: a party to the handler, the handler to a party, or a text the
    handler shared from one party with the other (marked as shared)."""

    __tablename__ = "coexistence_message"
    id: Mapped[int] = mapped_column(primary_key=True)
    coexistence_id: Mapped[int] = mapped_column(ForeignKey("coexistence_case.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    author: Mapped[str] = mapped_column(String(8))  # a | b | handler
    recipient: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)


class CoexistenceSession(Base):
    """A session (or a court hearing) the handler proposes: when, where, and each party's answer."""

    __tablename__ = "coexistence_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    coexistence_id: Mapped[int] = mapped_column(ForeignKey("coexistence_case.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    place: Mapped[str] = mapped_column(String(300))
    a_answer: Mapped[str | None] = mapped_column(String(8))
    b_answer: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12))  # proposed | agreed | off
    remind_at: Mapped[datetime | None] = mapped_column(index=True)


class CoexistenceOutcomeCount(Base):
    """How many coexistence cases ended how, by barrio, kind and month: no names, kept after the content goes."""

    __tablename__ = "coexistence_outcome"
    id: Mapped[int] = mapped_column(primary_key=True)
    barrio_id: Mapped[int] = mapped_column(ForeignKey("barrio.id"))
    kind: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM, Madrid time
    count: Mapped[int] = mapped_column(default=0)

    __table_args__ = (UniqueConstraint("barrio_id", "kind", "outcome", "month", name="uq_coexistence_outcome"),)


class Meeting(Base):
    """A meeting of a circle's assembly or of a body (a council, a Governance Commission, the Forum)."""

    __tablename__ = "meeting"
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(16))  # circle | council | governance | forum
    scope_id: Mapped[int | None]  # the circle, or the barrio; None for the Forum
    barrio_id: Mapped[int | None] = mapped_column(ForeignKey("barrio.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    place: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime] = mapped_column(index=True)
    minutes: Mapped[int] = mapped_column(default=90)
    status: Mapped[str] = mapped_column(String(12))  # scheduled | cancelled
    # The calendar SEQUENCE: raised by every change the invitees are told about.
    sequence: Mapped[int] = mapped_column(default=0)
    organiser_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime]
    # The next reminder, claimed once by the scheduler and moved to the following one.
    remind_at: Mapped[datetime | None] = mapped_column(index=True)
    minutes_text: Mapped[str | None] = mapped_column(Text)
    minutes_poll_id: Mapped[int | None] = mapped_column(ForeignKey("poll.id", ondelete="SET NULL"))
    minutes_at: Mapped[datetime | None]


class MeetingInvitee(Base):
    """One person invited to a meeting, and their answer."""

    __tablename__ = "meeting_invitee"
    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    rsvp: Mapped[str | None] = mapped_column(String(8))  # yes | no | maybe
    answered_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("meeting_id", "resident_id", name="uq_meeting_invitee"),)


class MeetingAgendaItem(Base):
    """An item of a meeting's agenda: the organiser's, or one an invitee proposed before the deadline."""

    __tablename__ = "meeting_agenda_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(String(200))
    proposed_by: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class MachineTranslation(Base):
    """A text as a machine translator rendered it in one language, kept so each text is translated once per
    language (a notice to 20,000 Arabic readers costs one call)."""

    __tablename__ = "machine_translation"
    text_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the original text
    source: Mapped[str] = mapped_column(String(8), primary_key=True)
    target: Mapped[str] = mapped_column(String(8), primary_key=True)
    translated: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
