"""Channel adapters: console, Telegram, Matrix."""
