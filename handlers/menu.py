"""The commands menu shown by Telegram, per language."""

from __future__ import annotations

from bot.i18n import N_, Translator

MENU: tuple[tuple[str, str], ...] = (
    ("start", N_("Join your circle")),
    ("report", N_("Report a problem")),
    ("myreports", N_("Your reports")),
    ("polls", N_("Polls and results")),
    ("proposals", N_("Proposals of your neighbours")),
    ("receipt", N_("Check your ballot was counted")),
    ("elections", N_("Elections: stand, nominate, vote")),
    ("bodies", N_("Delegates, council and Forum")),
    ("meetings", N_("Meetings you are invited to")),
    ("meeting", N_("Call a meeting (delegates, managers)")),
    ("poll", N_("Open a poll (delegates, managers)")),
    ("notice", N_("Send a notice (delegates, managers)")),
    ("notices", N_("Your notices and their delivery")),
    ("settings", N_("Quiet hours and notices you get")),
    ("me", N_("Your circle, role and status")),
    ("help", N_("What you can do")),
    ("language", N_("Change the language")),
    ("pending", N_("Requests waiting for you (delegates, managers)")),
    ("cases", N_("Cases you handle (staff)")),
    ("stats", N_("Figures of your barrio (managers, Governance Commission)")),
    ("leave", N_("Leave your circle")),
    ("contact", N_("Write to your community managers")),
    ("support", N_("Talk privately to someone")),
    ("mediations", N_("Mediation, support and court cases")),
    ("mydata", N_("A copy of your data")),
    ("forget", N_("Erase your data")),
    ("cancel", N_("Stop what you are doing")),
)


def command_menu(t: Translator) -> list[tuple[str, str]]:
    """The menu's commands with descriptions in the translator's language."""
    return [(command, t.gettext(description)) for command, description in MENU]
