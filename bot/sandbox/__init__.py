"""Local sandbox: the fake Telegram server, the bot and terminal chats, all on this machine."""
